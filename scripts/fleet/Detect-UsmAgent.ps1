<#
.SYNOPSIS
  Intune remediation detection script for the User Session Monitor Agent (winagentUSM).

.DESCRIPTION
  Runs winagentUSM.exe --status --json on this PC and prints one line that Intune shows as the
  detection output. Exit 0 (compliant): the agent runs, its last health check passed and it
  delivers. Exit 1 (not compliant): anything else, with the verdict and its reasons.

  Intune: Devices > Scripts and remediations > Create; Detection script file: this file; no
  remediation script (or one that restarts the service); Run this script using the logged-on
  credentials: No; Run script in 64-bit PowerShell: Yes.
#>
$ErrorActionPreference = 'Stop'

# The agent's folder: where the MSI remembered it, else the default.
$dir = $null
$key = Get-ItemProperty -Path 'HKLM:\SOFTWARE\UserSessionMon' -Name InstallDir -ErrorAction SilentlyContinue
if ($key) { $dir = $key.InstallDir }
if (-not $dir) { $dir = Join-Path $env:ProgramData 'UserSessionMon' }
$exe = Join-Path $dir 'winagentUSM.exe'
if (-not (Test-Path -LiteralPath $exe)) {
  Write-Output "NOT INSTALLED: $exe does not exist"
  exit 1
}

$text = & $exe --status --json --config (Join-Path $dir 'config.ini') | Out-String
$code = $LASTEXITCODE
try {
  $status = $text | ConvertFrom-Json
} catch {
  Write-Output "UNKNOWN: winagentUSM.exe --status exited $code without its JSON: $($text.Trim())"
  exit 1
}

if ($code -eq 0) {
  Write-Output ('OK: {0}, agent {1}, last event sent {2} (recorded {3}), {4} waiting' -f `
      $status.computerName, $status.agent.version, $status.lastSentAt,
    $status.events.lastSentEventAt, $status.events.pending)
  exit 0
}
Write-Output ('{0} (exit code {1}) on {2}: {3}' -f `
    $status.verdict.ToUpper(), $code, $status.computerName, ($status.problems -join '; '))
exit 1
