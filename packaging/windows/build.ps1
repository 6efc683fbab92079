<#
.SYNOPSIS
    Builds the Sferum Desktop Windows installer: dist\sferum-desktop-<version>-setup-x64.exe.

.DESCRIPTION
    On a Windows x64 build machine with Python 3.11+ (python.org) and Inno Setup 6.3+:
      1. creates (or reuses) the virtual environment build\venv-windows and installs the
         project with its "package" extra (PyInstaller) into it;
      2. runs `python packaging\build.py bundle`: translations, icons (build\icons\*.ico) and
         PyInstaller with packaging\sferum-desktop.spec -> dist\sferum-desktop\ (onedir:
         sferum-desktop.exe, sferum-desktop-cli.exe, _internal\);
      3. optionally signs both executables (Authenticode, signtool) when SIGN_CERT_THUMBPRINT
         is set;
      4. compiles packaging\windows\sferum-desktop.iss with ISCC, passing the version from
         `python packaging\build.py version` (never written anywhere else).

    Environment:
      PYTHON               the Python to create the venv with (default: `py -3`, then `python`)
      ISCC                 full path of ISCC.exe (default: the Inno Setup 6 install folders, PATH)
      SIGN_CERT_THUMBPRINT SHA-1 thumbprint of a code-signing certificate in the current user's
                           or the machine's certificate store (a hardware token works too);
                           unset: nothing is signed
      SIGN_TIMESTAMP_URL   RFC 3161 timestamp server (default http://timestamp.digicert.com)
      SIGNTOOL             full path of signtool.exe (default: the newest Windows 10/11 SDK one)

.EXAMPLE
    powershell -NoProfile -ExecutionPolicy Bypass -File packaging\windows\build.ps1

.EXAMPLE
    # Reuse dist\sferum-desktop\ from an earlier run; only (re)build the installer.
    powershell -NoProfile -ExecutionPolicy Bypass -File packaging\windows\build.ps1 -SkipBundle
#>
[CmdletBinding()]
param(
    # Do not run PyInstaller again: package the existing dist\sferum-desktop\.
    [switch]$SkipBundle
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$Root = (Resolve-Path (Join-Path $PSScriptRoot '..\..')).Path
Set-Location $Root

function Say([string]$Message) {
    Write-Host "==> $Message" -ForegroundColor Cyan
}

# Runs a native program and stops the script when it fails: $ErrorActionPreference does not
# cover native exit codes in Windows PowerShell 5.1.
function Invoke-Checked {
    param([Parameter(Mandatory)][string]$Exe, [string[]]$Arguments = @())
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "'$Exe $($Arguments -join ' ')' failed with exit code $LASTEXITCODE"
    }
}

# The same, returning the program's standard output (trimmed).
function Get-CheckedOutput {
    param([Parameter(Mandatory)][string]$Exe, [string[]]$Arguments = @())
    $out = & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "'$Exe $($Arguments -join ' ')' failed with exit code $LASTEXITCODE"
    }
    return (($out | Out-String).Trim())
}

function Find-Python {
    if ($env:PYTHON) { return @{ Exe = $env:PYTHON; Args = @() } }
    if (Get-Command py.exe -ErrorAction SilentlyContinue) { return @{ Exe = 'py.exe'; Args = @('-3') } }
    if (Get-Command python.exe -ErrorAction SilentlyContinue) { return @{ Exe = 'python.exe'; Args = @() } }
    throw 'Python 3.11+ not found: install it from python.org or set PYTHON to python.exe'
}

function Find-Iscc {
    $candidates = @()
    if ($env:ISCC) { $candidates += $env:ISCC }
    if (${env:ProgramFiles(x86)}) { $candidates += Join-Path ${env:ProgramFiles(x86)} 'Inno Setup 6\ISCC.exe' }
    $candidates += Join-Path $env:ProgramFiles 'Inno Setup 6\ISCC.exe'
    $candidates += Join-Path $env:LOCALAPPDATA 'Programs\Inno Setup 6\ISCC.exe'  # per-user install
    foreach ($c in $candidates) { if (Test-Path -LiteralPath $c -PathType Leaf) { return $c } }
    $onPath = Get-Command ISCC.exe -ErrorAction SilentlyContinue
    if ($onPath) { return $onPath.Source }
    throw 'ISCC.exe (Inno Setup 6) not found: install it from https://jrsoftware.org/isdl.php or set ISCC'
}

function Find-SignTool {
    if ($env:SIGNTOOL) { return $env:SIGNTOOL }
    $onPath = Get-Command signtool.exe -ErrorAction SilentlyContinue
    if ($onPath) { return $onPath.Source }
    $kits = Join-Path ${env:ProgramFiles(x86)} 'Windows Kits\10\bin'
    $found = Get-ChildItem -Path $kits -Filter signtool.exe -Recurse -ErrorAction SilentlyContinue |
        Where-Object { $_.Directory.Name -eq 'x64' } |
        Sort-Object { try { [version]$_.Directory.Parent.Name } catch { [version]'0.0' } } -Descending |
        Select-Object -First 1
    if ($found) { return $found.FullName }
    throw 'signtool.exe not found: install the Windows SDK (Signing Tools) or set SIGNTOOL'
}

# --- 1. the virtual environment -------------------------------------------------------------------

$Venv = Join-Path $Root 'build\venv-windows'
$VenvPy = Join-Path $Venv 'Scripts\python.exe'
if (-not (Test-Path -LiteralPath $VenvPy)) {
    $py = Find-Python
    # 64-bit Python 3.11 or later. (No double quotes in native arguments: Windows PowerShell 5.1
    # does not escape them.)
    & $py.Exe @($py.Args + @('-c', 'import sys; sys.exit(0 if sys.version_info >= (3, 11) and sys.maxsize > 2**32 else 1)'))
    if ($LASTEXITCODE -ne 0) { throw "$($py.Exe) is not a 64-bit Python 3.11 or later: set PYTHON to one" }
    Say "virtual environment: $Venv"
    Invoke-Checked $py.Exe ($py.Args + @('-m', 'venv', $Venv))
}
Invoke-Checked $VenvPy @('-m', 'pip', 'install', '--disable-pip-version-check', '--upgrade', 'pip')
Invoke-Checked $VenvPy @('-m', 'pip', 'install', '--disable-pip-version-check', '-e', '.[package]')

$Version = Get-CheckedOutput $VenvPy @('packaging\build.py', 'version')
# The numeric head of the version (1.2.0rc1 -> 1.2.0) for the binary version resource.
$VersionNumeric = [regex]::Match($Version, '^\d+(\.\d+){0,3}').Value
if (-not $VersionNumeric) { throw "unexpected version '$Version'" }
Say "Sferum Desktop $Version"

# --- 2. the PyInstaller bundle ------------------------------------------------------------------

$Bundle = Join-Path $Root 'dist\sferum-desktop'
$Gui = Join-Path $Bundle 'sferum-desktop.exe'
$Cli = Join-Path $Bundle 'sferum-desktop-cli.exe'
if (-not $SkipBundle) {
    Invoke-Checked $VenvPy @('packaging\build.py', 'bundle')
}
foreach ($exe in @($Gui, $Cli)) {
    if (-not (Test-Path -LiteralPath $exe -PathType Leaf)) { throw "missing $exe (run without -SkipBundle)" }
}
# Smoke test: the console executable starts and reports the version being packaged.
$reported = Get-CheckedOutput $Cli @('--version')
if ($reported -ne "sferum-desktop $Version") { throw "sferum-desktop-cli.exe --version said '$reported'" }

# --- 3. optional Authenticode signing -------------------------------------------------------------

$IsccArgs = @("/DAppVersion=$Version", "/DAppVersionNumeric=$VersionNumeric")
if ($env:SIGN_CERT_THUMBPRINT) {
    $signtool = Find-SignTool
    $timestamp = if ($env:SIGN_TIMESTAMP_URL) { $env:SIGN_TIMESTAMP_URL } else { 'http://timestamp.digicert.com' }
    $thumb = $env:SIGN_CERT_THUMBPRINT -replace '\s', ''
    $signArgs = @('sign', '/sha1', $thumb, '/fd', 'SHA256', '/tr', $timestamp, '/td', 'SHA256', '/d', 'Sferum Desktop')
    Say "signing the executables with certificate $thumb"
    Invoke-Checked $signtool ($signArgs + @($Gui, $Cli))
    # Inno Setup signs Setup and the uninstaller itself through this Sign Tool ($q is a quote,
    # $f the file); see SignTool in sferum-desktop.iss.
    $IsccArgs += '/DSign'
    $IsccArgs += "/Ssferumsign=`$q$signtool`$q sign /sha1 $thumb /fd SHA256 /tr $timestamp /td SHA256 /d `$qSferum Desktop Setup`$q `$f"
} else {
    Say 'SIGN_CERT_THUMBPRINT not set: the executables and the installer stay unsigned'
}

# --- 4. the installer ---------------------------------------------------------------------------

$Iscc = Find-Iscc
Say "Inno Setup: $Iscc"
Invoke-Checked $Iscc ($IsccArgs + @((Join-Path $Root 'packaging\windows\sferum-desktop.iss')))

$Setup = Join-Path $Root "dist\sferum-desktop-$Version-setup-x64.exe"
if (-not (Test-Path -LiteralPath $Setup -PathType Leaf)) { throw "ISCC did not produce $Setup" }
if ($env:SIGN_CERT_THUMBPRINT) {
    Invoke-Checked $signtool @('verify', '/pa', '/q', $Setup)
}
Say ("installer: {0} ({1:N0} MiB)" -f $Setup, ((Get-Item -LiteralPath $Setup).Length / 1MB))
Write-Output $Setup
