# Real-Windows checks of the install folder's trust, run by .github/workflows/windows.yml as
# named steps with the release build dist\winagentUSM.exe (elevated runner; the standard user
# $env:USM_TEST_STANDARD_USER exists). Each case prepares folders with icacls, runs
# `winagentUSM.exe -service install`, asserts the outcome, then removes the service and folders.
#   planted:  a folder Users may write, and a protected one holding a standard user's DLL:
#             both moved aside, the new folder protected and without the planted file
#   parents:  a drive-root-like parent where Authenticated Users may create folders (and modify
#             what an administrator creates): a missing folder below it is created protected and
#             the install succeeds; an administrator's folder made there is refused, by name
#   denied:   a folder whose DACL denies everyone: the install succeeds, the folder protected
param([Parameter(Mandatory)][ValidateSet("planted", "parents", "denied")][string]$Case)
$ErrorActionPreference = "Stop"
$exe = Join-Path $PSScriptRoot "..\..\dist\winagentUSM.exe"
$key = "0123456789abcdef" * 4

function Install-Agent([string]$dir) {
  $ini = Join-Path $env:RUNNER_TEMP "usm-$Case.ini"
  "[API]`r`napi_key = $key`r`nserver_url = https://127.0.0.1:9`r`ninstall_dir = $dir`r`n" |
    Set-Content -Path $ini -Encoding ascii
  $ErrorActionPreference = "Continue" # a native program's stderr is output here, not an error
  $out = & $exe -service install -config $ini 2>&1 | Out-String
  Write-Host $out
  return @{ Code = $LASTEXITCODE; Output = $out }
}
function Remove-Agent {
  $ErrorActionPreference = "Continue"
  & $exe -service remove 2>&1 | Out-Null
}
function Assert-Protected([string]$dir) {
  $sddl = (Get-Acl -LiteralPath $dir).Sddl
  $dacl = $sddl.Substring($sddl.IndexOf("D:"))
  $aces = [regex]::Matches($dacl, "\(([^)]*)\)") | ForEach-Object { $_.Groups[1].Value } | Sort-Object
  if (-not $sddl.StartsWith("O:BA") -or -not $dacl.StartsWith("D:P") -or
      (($aces -join " ") -ne "A;OICI;FA;;;BA A;OICI;FA;;;SY")) {
    throw "$dir is not owned by Administrators with the protected DACL: $sddl"
  }
}
function Reset-Folder([string]$path) {
  $ErrorActionPreference = "Continue"
  Get-Item -Path "$path*" -ErrorAction SilentlyContinue | ForEach-Object {
    takeown /f $_.FullName /r /d y 2>&1 | Out-Null
    icacls $_.FullName /reset /t /c /q 2>&1 | Out-Null
    Remove-Item -LiteralPath $_.FullName -Recurse -Force
  }
}

switch ($Case) {
  "planted" {
    foreach ($kind in @("writable", "planted")) {
      $dir = "C:\ProgramData\UsmCi-$kind"
      New-Item -ItemType Directory -Path $dir -Force | Out-Null
      if ($kind -eq "writable") {
        icacls $dir /grant "*S-1-5-32-545:(OI)(CI)(AD,WD)" | Out-Null
        $reason = "its permissions let Users \(BU\) write in it"
      } else {
        icacls $dir /inheritance:r /grant:r "*S-1-5-18:(OI)(CI)F" "*S-1-5-32-544:(OI)(CI)F" | Out-Null
        $reason = "it holds userenv\.dll, owned by S-1-5-21-"
      }
      Set-Content -Path "$dir\userenv.dll" -Value "planted"
      icacls "$dir\userenv.dll" /setowner $env:USM_TEST_STANDARD_USER | Out-Null
      $r = Install-Agent $dir
      try {
        if ($r.Code -ne 0) { throw "install into $dir failed with $($r.Code)" }
        if ($r.Output -notmatch "was not trusted: $reason") { throw "no '$reason' in the output" }
        $aside = Get-Item -Path "$dir.untrusted-*"
        if (-not (Test-Path "$($aside.FullName)\userenv.dll")) { throw "the moved folder lost its file" }
        if (Test-Path "$dir\userenv.dll") { throw "the planted userenv.dll is in the new folder" }
        Assert-Protected $dir
      } finally {
        Remove-Agent
        Reset-Folder $dir
      }
    }
  }
  "parents" {
    $root = "C:\UsmCiDrive"
    New-Item -ItemType Directory -Path $root -Force | Out-Null
    # As a new volume's root: Authenticated Users may create folders, and modify what is made.
    icacls $root /inheritance:r /grant:r "*S-1-5-18:(OI)(CI)F" "*S-1-5-32-544:(OI)(CI)F" `
      "*S-1-5-32-545:(OI)(CI)RX" "*S-1-5-11:(AD)" "*S-1-5-11:(OI)(CI)(IO)M" | Out-Null
    try {
      $r = Install-Agent "$root\Agents\USM"
      if ($r.Code -ne 0) { throw "install under a missing parent failed with $($r.Code)" }
      Remove-Agent
      $sddl = (Get-Acl -LiteralPath "$root\Agents").Sddl
      if ($sddl -match ";;;AU\)" -or $sddl -notmatch "D:P") { throw "$root\Agents was not created protected: $sddl" }
      New-Item -ItemType Directory -Path "$root\Made" | Out-Null # inherits AU: modify
      $r = Install-Agent "$root\Made\USM"
      if ($r.Code -eq 0) { Remove-Agent; throw "the install under $root\Made was not refused" }
      if ($r.Output -notmatch [regex]::Escape("its parent folder $root\Made is not safe")) {
        throw "the refusal does not name $root\Made"
      }
      if (Test-Path "$root\Made\USM") { throw "the refused install created $root\Made\USM" }
    } finally {
      Reset-Folder $root
    }
  }
  "denied" {
    $dir = "C:\ProgramData\UsmCi-denied"
    New-Item -ItemType Directory -Path $dir -Force | Out-Null
    icacls $dir /inheritance:r /deny "*S-1-1-0:(OI)(CI)F" | Out-Null
    $r = Install-Agent $dir
    try {
      if ($r.Code -ne 0) { throw "install into a deny-everyone folder failed with $($r.Code)" }
      Assert-Protected $dir
    } finally {
      Remove-Agent
      Reset-Folder $dir
    }
  }
}
Write-Output "install check '$Case' passed"
