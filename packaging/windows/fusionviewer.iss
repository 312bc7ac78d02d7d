; Inno Setup 6 script: Windows installer for the PyInstaller bundle dist\FusionViewer\.
; Build on Windows (see packaging/README.md):
;   python -m PyInstaller --noconfirm --distpath dist --workpath build\pyinstaller packaging\fusionviewer.spec
;   iscc /DAppVersion=0.1.0 packaging\windows\fusionviewer.iss
; Output: dist\FusionViewer-<version>-windows-x64-setup.exe. Per-user or all-users install,
; Start-menu entry, uninstaller, and opt-in file associations (.dcm, .nii, .nii.gz, .png).

#define AppName "FusionViewer"
#define AppExe "FusionViewer.exe"
#define ProgId "FusionViewer.Image"
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{7C0F5E52-3B0B-4C38-9D8E-2F1B5B8C9A41}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=FusionViewer contributors
AppComments=Research use only, not for diagnosis.
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
ChangesAssociations=yes
SetupIconFile=..\..\resources\icons\fusionviewer.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName} {#AppVersion}
OutputDir=..\..\dist
OutputBaseFilename={#AppName}-{#AppVersion}-windows-x64-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "assoc_dcm"; Description: "DICOM files (.dcm)"; GroupDescription: "Open these files with {#AppName} on double-click:"; Flags: unchecked
Name: "assoc_nii"; Description: "NIfTI files (.nii; .nii.gz is added to ""Open with"")"; GroupDescription: "Open these files with {#AppName} on double-click:"; Flags: unchecked
Name: "assoc_png"; Description: "PNG images (.png)"; GroupDescription: "Open these files with {#AppName} on double-click:"; Flags: unchecked

[Files]
Source: "..\..\dist\FusionViewer\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "Multimodal medical image fusion (research use only)"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; The program id: how Explorer opens a file with FusionViewer ("%1" arrives as argv -> `view`).
Root: HKA; Subkey: "Software\Classes\{#ProgId}"; ValueType: string; ValueName: ""; ValueData: "Medical image ({#AppName})"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\{#ProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"
Root: HKA; Subkey: "Software\Classes\{#ProgId}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".dcm"; ValueData: ""; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".nii"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".png"; ValueData: ""
; Opt-in associations (unchecked by default). Windows keys on the last extension only, so
; .nii.gz cannot be claimed without taking every .gz: it is only offered under "Open with".
Root: HKA; Subkey: "Software\Classes\.dcm\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue; Tasks: assoc_dcm
Root: HKA; Subkey: "Software\Classes\.dcm"; ValueType: string; ValueName: ""; ValueData: "{#ProgId}"; Flags: uninsdeletevalue; Tasks: assoc_dcm
Root: HKA; Subkey: "Software\Classes\.nii\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue; Tasks: assoc_nii
Root: HKA; Subkey: "Software\Classes\.nii"; ValueType: string; ValueName: ""; ValueData: "{#ProgId}"; Flags: uninsdeletevalue; Tasks: assoc_nii
Root: HKA; Subkey: "Software\Classes\.gz\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue; Tasks: assoc_nii
Root: HKA; Subkey: "Software\Classes\.png\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue; Tasks: assoc_png
Root: HKA; Subkey: "Software\Classes\.png"; ValueType: string; ValueName: ""; ValueData: "{#ProgId}"; Flags: uninsdeletevalue; Tasks: assoc_png

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
