; Sferum Desktop: the Windows installer (Inno Setup 6.3 or later).
;
; Build it with packaging\windows\build.ps1, which freezes the app first and then runs
;   ISCC.exe /DAppVersion=<version> packaging\windows\sferum-desktop.iss
; with the version from `python packaging/build.py version` (sferum_desktop.__version__, the one
; place it is written). Output: dist\sferum-desktop-<version>-setup-x64.exe.
;
; Input (all relative to the repository root, see SourceDir):
;   dist\sferum-desktop\                 the PyInstaller onedir: sferum-desktop.exe (GUI),
;                                        sferum-desktop-cli.exe (console) and _internal\
;   build\icons\sferum-desktop.ico       from `python packaging/build.py icons`
;   resources\licenses\*.txt             GPL-3.0 (the app) and LGPL-3.0 (Qt)
;   packaging\windows\sferum-desktop-sync.xml, packaging\README.md   the headless sync task
;
; Silent install for IT staff (see packaging\windows\README.md):
;   sferum-desktop-<version>-setup-x64.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART /ALLUSERS
; User data (%LOCALAPPDATA%\sferum-desktop) and the keyring entries are never removed by the
; uninstaller.

#ifndef AppVersion
  #error AppVersion is not defined: run ISCC with /DAppVersion=X.Y.Z (packaging\windows\build.ps1 does)
#endif

; The binary version resource takes numbers only (1.2.0rc1 would not compile): build.ps1 passes
; /DAppVersionNumeric with the leading numeric part of the version.
#ifndef AppVersionNumeric
  #define AppVersionNumeric "0.0.0"
#endif

#define AppName "Sferum Desktop"
#define AppPublisher "Sferum Desktop contributors"
#define AppExeName "sferum-desktop.exe"
#define AppCliName "sferum-desktop-cli.exe"
; The repository root, relative to this script; every relative path below starts from it.
#define RepoRoot "..\.."
#define Bundle AddBackslash(SourcePath) + RepoRoot + "\dist\sferum-desktop\"

; Fail early, with a clear message, when the PyInstaller bundle is missing or is not the
; two-executable Windows layout.
#if !FileExists(Bundle + AppExeName) || !FileExists(Bundle + AppCliName)
  #error dist\sferum-desktop\ lacks sferum-desktop.exe or sferum-desktop-cli.exe: run `python packaging/build.py bundle` first
#endif

[Setup]
; Never change AppId: it ties upgrades and the uninstaller to earlier installations.
; (The doubled brace is Inno Setup's escape for a literal "{".)
AppId={{F40D98F7-04FA-4A86-AAE0-40C84ADBC0B2}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppPublisher}
AppCopyright={#AppPublisher}, GPL-3.0-or-later
VersionInfoVersion={#AppVersionNumeric}
VersionInfoTextVersion={#AppVersion}
VersionInfoProductName={#AppName}
VersionInfoProductTextVersion={#AppVersion}
VersionInfoDescription={#AppName} Setup
SourceDir={#RepoRoot}
OutputDir=dist
OutputBaseFilename=sferum-desktop-{#AppVersion}-setup-x64
; {autopf}: "C:\Program Files" for an all-users install, "%LOCALAPPDATA%\Programs" for a
; per-user one (chosen in the privileges dialog or with /ALLUSERS, /CURRENTUSER).
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=admin
PrivilegesRequiredOverridesAllowed=dialog
; 64-bit only (PySide6 ships x64 wheels); x64compatible also admits Windows 11 on Arm64.
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
; Qt 6.8+ runs on Windows 10 (1809) and later.
MinVersion=10.0.17763
WizardStyle=modern
ShowLanguageDialog=auto
LicenseFile=resources\licenses\GPL-3.0.txt
SetupIconFile=build\icons\sferum-desktop.ico
UninstallDisplayIcon={app}\{#AppExeName}
UninstallDisplayName={#AppName}
; Authenticode: build.ps1 defines Sign and the "sferumsign" Sign Tool (/Ssferumsign=...) when
; SIGN_CERT_THUMBPRINT is set. Inno then signs Setup, its temporary self-copies and the
; uninstaller (signing the setup .exe afterwards would leave those unsigned).
#ifdef Sign
SignTool=sferumsign
SignedUninstaller=yes
#endif
Compression=lzma2/ultra64
SolidCompression=yes
LZMAUseSeparateProcess=yes
; An upgrade closes the running app (and a sync run in progress; it resumes from its journal
; at the next run) through the Restart Manager. .pyd are the bundle's Python extensions.
CloseApplications=yes
CloseApplicationsFilter=*.exe,*.dll,*.pyd
RestartApplications=no

[Languages]
; Russian first: it is the product's language and the default when the system's is neither.
; (ShowLanguageDialog=auto in [Setup]: the language dialog only shows when there is no match.)
Name: "russian"; MessagesFile: "compiler:Languages\Russian.isl"
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An upgrade replaces the bundle's _internal folder as a whole, so that no library or Qt plugin
; of the previous version (removed or renamed since) is left beside the new ones.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
; The whole onedir bundle: both executables and _internal\ (Python, PySide6 with Qt's DLLs as
; separate, replaceable files — LGPL-3.0 — and QtWebEngineProcess.exe).
Source: "dist\sferum-desktop\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
; The headless sync's Task Scheduler definition and its documentation (not registered: it needs
; the service account's credentials, see packaging\windows\README.md).
Source: "packaging\windows\sferum-desktop-sync.xml"; DestDir: "{app}\service"; Flags: ignoreversion
Source: "packaging\README.md"; DestDir: "{app}\service"; DestName: "README.md"; Flags: ignoreversion
Source: "resources\licenses\GPL-3.0.txt"; DestDir: "{app}\licenses"; Flags: ignoreversion
Source: "resources\licenses\LGPL-3.0.txt"; DestDir: "{app}\licenses"; Flags: ignoreversion

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExeName}"; WorkingDir: "{app}"
Name: "{group}\{cm:UninstallProgram,{#AppName}}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExeName}"; WorkingDir: "{app}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExeName}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

; No [UninstallDelete]: the uninstaller removes only what the installer put in {app}. The
; user's data (%LOCALAPPDATA%\sferum-desktop) and the keyring entries are kept; delete that folder
; by hand to remove them.
