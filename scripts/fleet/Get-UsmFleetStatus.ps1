<#
.SYNOPSIS
  Which PCs of a fleet have a User Session Monitor Agent that does not deliver.

.DESCRIPTION
  Runs winagentUSM.exe --status --json on each PC through PowerShell remoting (WinRM) and
  returns one row per PC: its --status exit code and verdict, the reasons, the agent's version,
  the events waiting and the times of the newest event sent. PCs that cannot be reached and PCs
  without the agent get a row too (verdict 'unreachable', 'not-installed'). Problems first.

.PARAMETER ComputerName
  The PCs, e.g. (Get-Content pcs.txt) or (Get-ADComputer -Filter * -SearchBase 'OU=...').Name.

.PARAMETER MaxBacklog
  --max-backlog for each PC's verdict (e.g. 90s, 60, 2h; 0 turns the check off).

.EXAMPLE
  .\Get-UsmFleetStatus.ps1 -ComputerName (Get-Content pcs.txt) | Format-Table -AutoSize

.EXAMPLE
  .\Get-UsmFleetStatus.ps1 -ComputerName (Get-Content pcs.txt) |
    Export-Csv fleet.csv -NoTypeInformation
#>
param(
  [Parameter(Mandatory = $true)] [string[]] $ComputerName,
  [string] $MaxBacklog = '60',
  [int] $ThrottleLimit = 32
)

$probe = {
  param($MaxBacklog)
  $dir = $null
  $key = Get-ItemProperty -Path 'HKLM:\SOFTWARE\UserSessionMon' -Name InstallDir -ErrorAction SilentlyContinue
  if ($key) { $dir = $key.InstallDir }
  if (-not $dir) { $dir = Join-Path $env:ProgramData 'UserSessionMon' }
  $exe = Join-Path $dir 'winagentUSM.exe'
  if (-not (Test-Path -LiteralPath $exe)) {
    return [pscustomobject]@{ ExitCode = $null; Verdict = 'not-installed'; Problems = "$exe does not exist" }
  }
  $text = & $exe --status --json --max-backlog $MaxBacklog --config (Join-Path $dir 'config.ini') | Out-String
  $code = $LASTEXITCODE
  try {
    $status = $text | ConvertFrom-Json
  } catch {
    return [pscustomobject]@{ ExitCode = $code; Verdict = 'unknown'; Problems = $text.Trim() }
  }
  [pscustomobject]@{
    ExitCode             = $code
    Verdict              = $status.verdict
    Problems             = $status.problems -join '; '
    AgentVersion         = $status.agent.version
    Pending              = $status.events.pending
    LastSentAt           = $status.lastSentAt
    LastSentEventAt      = $status.events.lastSentEventAt
    DeliveryFailingSince = $status.deliveryFailingSince
  }
}

$failures = @()
$rows = @(Invoke-Command -ComputerName $ComputerName -ScriptBlock $probe -ArgumentList $MaxBacklog `
    -ThrottleLimit $ThrottleLimit -ErrorAction SilentlyContinue -ErrorVariable failures |
    ForEach-Object {
      $_ | Add-Member -NotePropertyName ComputerName -NotePropertyValue $_.PSComputerName -PassThru
    })
foreach ($failure in $failures) {
  $rows += [pscustomobject]@{
    ComputerName = [string]$failure.TargetObject
    ExitCode     = $null
    Verdict      = 'unreachable'
    Problems     = $failure.Exception.Message
  }
}
$rows |
  Sort-Object @{ Expression = { $_.ExitCode -eq 0 } }, ComputerName |
  Select-Object ComputerName, ExitCode, Verdict, Problems, AgentVersion, Pending, LastSentAt,
    LastSentEventAt, DeliveryFailingSince
