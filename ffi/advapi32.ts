/**
 * advapi32.dll: the service control dispatcher and handler, the service control manager,
 * security descriptors, the process token, the Application log and the registry calls that
 * register its event source. One symbol table, opened lazily by {@link advapi32}.
 *
 * @module
 */

import { openSystemLibrary } from "./system32.ts";

/** The advapi32.dll symbols the agent uses. */
export const ADVAPI32_SYMBOLS = {
  StartServiceCtrlDispatcherW: {
    parameters: [
      "buffer", // const SERVICE_TABLE_ENTRYW* lpServiceStartTable: ends with a NULL entry
    ],
    result: "i32", // BOOL: returns when every service of the process has stopped
    // Blocks its thread for the service's lifetime: run it on a worker thread. GetLastError is
    // unreadable afterwards (it belongs to that worker thread).
    nonblocking: true,
  },
  RegisterServiceCtrlHandlerExW: {
    parameters: [
      "buffer", // LPCWSTR lpServiceName
      "function", // LPHANDLER_FUNCTION_EX lpHandlerProc
      "pointer", // LPVOID lpContext: handed back to HandlerEx
    ],
    result: "pointer", // SERVICE_STATUS_HANDLE, NULL on failure; never closed
  },
  SetServiceStatus: {
    parameters: [
      "pointer", // SERVICE_STATUS_HANDLE hServiceStatus
      "buffer", // LPSERVICE_STATUS lpServiceStatus: 28 bytes
    ],
    result: "i32", // BOOL
  },
  OpenSCManagerW: {
    parameters: [
      "buffer", // LPCWSTR lpMachineName: NULL for this machine
      "buffer", // LPCWSTR lpDatabaseName: NULL for SERVICES_ACTIVE_DATABASE
      "u32", // DWORD dwDesiredAccess: SC_MANAGER_*
    ],
    result: "pointer", // SC_HANDLE, NULL on failure
  },
  CreateServiceW: {
    parameters: [
      "pointer", // SC_HANDLE hSCManager
      "buffer", // LPCWSTR lpServiceName
      "buffer", // LPCWSTR lpDisplayName
      "u32", // DWORD dwDesiredAccess: SERVICE_ALL_ACCESS
      "u32", // DWORD dwServiceType: SERVICE_WIN32_OWN_PROCESS
      "u32", // DWORD dwStartType: SERVICE_AUTO_START
      "u32", // DWORD dwErrorControl: SERVICE_ERROR_NORMAL
      "buffer", // LPCWSTR lpBinaryPathName: quoted path and arguments
      "buffer", // LPCWSTR lpLoadOrderGroup: NULL
      "buffer", // LPDWORD lpdwTagId: NULL
      "buffer", // LPCWSTR lpDependencies: NULL or a double-NUL list
      "buffer", // LPCWSTR lpServiceStartName: NULL for LocalSystem
      "buffer", // LPCWSTR lpPassword: NULL
    ],
    result: "pointer", // SC_HANDLE, NULL on failure
  },
  ChangeServiceConfigW: {
    parameters: [
      "pointer", // SC_HANDLE hService
      "u32", // DWORD dwServiceType: or SERVICE_NO_CHANGE
      "u32", // DWORD dwStartType: or SERVICE_NO_CHANGE
      "u32", // DWORD dwErrorControl: or SERVICE_NO_CHANGE
      "buffer", // LPCWSTR lpBinaryPathName: NULL keeps it
      "buffer", // LPCWSTR lpLoadOrderGroup: NULL keeps it
      "buffer", // LPDWORD lpdwTagId: NULL
      "buffer", // LPCWSTR lpDependencies: NULL keeps them
      "buffer", // LPCWSTR lpServiceStartName: NULL keeps it
      "buffer", // LPCWSTR lpPassword: NULL keeps it
      "buffer", // LPCWSTR lpDisplayName: NULL keeps it
    ],
    result: "i32", // BOOL
  },
  ChangeServiceConfig2W: {
    parameters: [
      "pointer", // SC_HANDLE hService
      "u32", // DWORD dwInfoLevel: SERVICE_CONFIG_DESCRIPTION 1, SERVICE_CONFIG_FAILURE_ACTIONS 2
      "buffer", // LPVOID lpInfo: SERVICE_DESCRIPTIONW or SERVICE_FAILURE_ACTIONSW
    ],
    result: "i32", // BOOL
  },
  QueryServiceConfig2W: {
    parameters: [
      "pointer", // SC_HANDLE hService
      "u32", // DWORD dwInfoLevel: SERVICE_CONFIG_DESCRIPTION 1, SERVICE_CONFIG_FAILURE_ACTIONS 2
      "buffer", // LPBYTE lpBuffer: the struct, followed by the data its pointers point to
      "u32", // DWORD cbBufSize
      "buffer", // LPDWORD pcbBytesNeeded: out
    ],
    result: "i32", // BOOL
  },
  OpenServiceW: {
    parameters: [
      "pointer", // SC_HANDLE hSCManager
      "buffer", // LPCWSTR lpServiceName
      "u32", // DWORD dwDesiredAccess: SERVICE_*
    ],
    result: "pointer", // SC_HANDLE, NULL on failure
  },
  StartServiceW: {
    parameters: [
      "pointer", // SC_HANDLE hService
      "u32", // DWORD dwNumServiceArgs
      "pointer", // LPCWSTR* lpServiceArgVectors: NULL
    ],
    result: "i32", // BOOL
  },
  ControlService: {
    parameters: [
      "pointer", // SC_HANDLE hService
      "u32", // DWORD dwControl: SERVICE_CONTROL_STOP 1, INTERROGATE 4, or 128..255
      "buffer", // LPSERVICE_STATUS lpServiceStatus: receives the status, 28 bytes
    ],
    result: "i32", // BOOL
  },
  QueryServiceStatusEx: {
    parameters: [
      "pointer", // SC_HANDLE hService
      "u32", // SC_STATUS_TYPE InfoLevel: SC_STATUS_PROCESS_INFO 0
      "buffer", // LPBYTE lpBuffer: SERVICE_STATUS_PROCESS, 36 bytes
      "u32", // DWORD cbBufSize
      "buffer", // LPDWORD pcbBytesNeeded
    ],
    result: "i32", // BOOL
  },
  DeleteService: {
    parameters: ["pointer"], // SC_HANDLE hService
    result: "i32", // BOOL: the service goes once every handle to it is closed
  },
  CloseServiceHandle: {
    parameters: ["pointer"], // SC_HANDLE hSCObject
    result: "i32", // BOOL
  },
  ConvertStringSecurityDescriptorToSecurityDescriptorW: {
    parameters: [
      "buffer", // LPCWSTR StringSecurityDescriptor: SDDL
      "u32", // DWORD StringSDRevision: SDDL_REVISION_1
      "buffer", // PSECURITY_DESCRIPTOR* SecurityDescriptor: out, free with LocalFree
      "buffer", // PULONG SecurityDescriptorSize: out, may be NULL
    ],
    result: "i32", // BOOL
  },
  ConvertSecurityDescriptorToStringSecurityDescriptorW: {
    parameters: [
      "pointer", // PSECURITY_DESCRIPTOR SecurityDescriptor
      "u32", // DWORD RequestedStringSDRevision: SDDL_REVISION_1
      "u32", // SECURITY_INFORMATION SecurityInformation: e.g. DACL_SECURITY_INFORMATION
      "buffer", // LPWSTR* StringSecurityDescriptor: out, free with LocalFree
      "buffer", // PULONG StringSecurityDescriptorLen: out, may be NULL
    ],
    result: "i32", // BOOL
  },
  GetSecurityDescriptorDacl: {
    parameters: [
      "pointer", // PSECURITY_DESCRIPTOR pSecurityDescriptor
      "buffer", // LPBOOL lpbDaclPresent: out
      "buffer", // PACL* pDacl: out, points into the descriptor
      "buffer", // LPBOOL lpbDaclDefaulted: out
    ],
    result: "i32", // BOOL
  },
  OpenProcessToken: {
    parameters: [
      "pointer", // HANDLE ProcessHandle: GetCurrentProcess()
      "u32", // DWORD DesiredAccess: TOKEN_QUERY
      "buffer", // PHANDLE TokenHandle: out, close with CloseHandle
    ],
    result: "i32", // BOOL
  },
  GetTokenInformation: {
    parameters: [
      "pointer", // HANDLE TokenHandle
      "u32", // TOKEN_INFORMATION_CLASS: TokenElevation 20
      "buffer", // LPVOID TokenInformation: TOKEN_ELEVATION, one DWORD
      "u32", // DWORD TokenInformationLength
      "buffer", // PDWORD ReturnLength: out
    ],
    result: "i32", // BOOL
  },
  // Service DACL, security by handle, owners, the service key's Environment.
  SetServiceObjectSecurity: {
    parameters: [
      "pointer", // SC_HANDLE hService: opened with WRITE_DAC
      "u32", // SECURITY_INFORMATION dwSecurityInformation: DACL_SECURITY_INFORMATION
      "pointer", // PSECURITY_DESCRIPTOR lpSecurityDescriptor
    ],
    result: "i32", // BOOL
  },
  QueryServiceObjectSecurity: {
    parameters: [
      "pointer", // SC_HANDLE hService: opened with READ_CONTROL
      "u32", // SECURITY_INFORMATION dwSecurityInformation
      "buffer", // PSECURITY_DESCRIPTOR lpSecurityDescriptor: out, self-relative
      "u32", // DWORD cbBufSize
      "buffer", // LPDWORD pcbBytesNeeded: out
    ],
    result: "i32", // BOOL
  },
  GetSecurityInfo: {
    parameters: [
      "pointer", // HANDLE handle: e.g. from CreateFileW, with READ_CONTROL
      "u32", // SE_OBJECT_TYPE ObjectType: SE_FILE_OBJECT 1
      "u32", // SECURITY_INFORMATION SecurityInfo: OWNER | DACL
      "buffer", // PSID* ppsidOwner: out, points into the descriptor (or NULL)
      "buffer", // PSID* ppsidGroup: NULL
      "buffer", // PACL* ppDacl: out, points into the descriptor (or NULL)
      "buffer", // PACL* ppSacl: NULL
      "buffer", // PSECURITY_DESCRIPTOR* ppSecurityDescriptor: out, free with LocalFree
    ],
    result: "u32", // DWORD: ERROR_SUCCESS or the error code (not through GetLastError)
  },
  SetSecurityInfo: {
    parameters: [
      "pointer", // HANDLE handle: with WRITE_DAC (and WRITE_OWNER for the owner)
      "u32", // SE_OBJECT_TYPE ObjectType: SE_FILE_OBJECT 1
      "u32", // SECURITY_INFORMATION SecurityInfo
      "pointer", // PSID psidOwner: or NULL
      "pointer", // PSID psidGroup: NULL
      "pointer", // PACL pDacl: or NULL
      "pointer", // PACL pSacl: NULL
    ],
    result: "u32", // DWORD: ERROR_SUCCESS or the error code
  },
  GetSecurityDescriptorOwner: {
    parameters: [
      "pointer", // PSECURITY_DESCRIPTOR pSecurityDescriptor
      "buffer", // PSID* pOwner: out, points into the descriptor
      "buffer", // LPBOOL lpbOwnerDefaulted: out
    ],
    result: "i32", // BOOL
  },
  RegDeleteKeyValueW: {
    parameters: [
      "pointer", // HKEY hKey: HKEY_LOCAL_MACHINE
      "buffer", // LPCWSTR lpSubKey
      "buffer", // LPCWSTR lpValueName
    ],
    result: "i32", // LSTATUS: ERROR_SUCCESS, ERROR_FILE_NOT_FOUND 2 when there is no such value
  },
  RegGetValueW: {
    parameters: [
      "pointer", // HKEY hkey: HKEY_LOCAL_MACHINE
      "buffer", // LPCWSTR lpSubKey
      "buffer", // LPCWSTR lpValue
      "u32", // DWORD dwFlags: RRF_RT_REG_SZ
      "buffer", // LPDWORD pdwType: NULL
      "buffer", // PVOID pvData: out, NULL to ask the size
      "buffer", // LPDWORD pcbData: in/out, bytes (the NUL included)
    ],
    result: "i32", // LSTATUS: ERROR_SUCCESS, ERROR_FILE_NOT_FOUND 2 when there is no such value
  },
  RegOpenKeyExW: {
    parameters: [
      "pointer", // HKEY hKey: e.g. HKEY_LOCAL_MACHINE
      "buffer", // LPCWSTR lpSubKey
      "u32", // DWORD ulOptions: 0
      "u32", // REGSAM samDesired: KEY_READ
      "buffer", // PHKEY phkResult: out, close with RegCloseKey
    ],
    result: "i32", // LSTATUS: ERROR_SUCCESS or the error code (not through GetLastError)
  },
  RegCloseKey: {
    parameters: ["pointer"], // HKEY hKey
    result: "i32", // LSTATUS
  },
  // The Application log (ReportEventW) and the registry calls that register its event source.
  RegisterEventSourceW: {
    parameters: [
      "buffer", // LPCWSTR lpUNCServerName: NULL for this machine
      "buffer", // LPCWSTR lpSourceName: a source under ...\EventLog\Application
    ],
    result: "pointer", // HANDLE, NULL on failure; closed with DeregisterEventSource
  },
  ReportEventW: {
    parameters: [
      "pointer", // HANDLE hEventLog: from RegisterEventSourceW
      "u16", // WORD wType: EVENTLOG_ERROR_TYPE 1, EVENTLOG_WARNING_TYPE 2, EVENTLOG_INFORMATION_TYPE 4
      "u16", // WORD wCategory: 0
      "u32", // DWORD dwEventID: the event's identifier (1..1000 with EventCreate.exe's messages)
      "pointer", // PSID lpUserSid: NULL
      "u16", // WORD wNumStrings: insertion strings in lpStrings
      "u32", // DWORD dwDataSize: 0
      "buffer", // LPCWSTR* lpStrings: array of pointers to NUL-terminated UTF-16 strings
      "pointer", // LPVOID lpRawData: NULL
    ],
    result: "i32", // BOOL
  },
  DeregisterEventSource: {
    parameters: ["pointer"], // HANDLE hEventLog
    result: "i32", // BOOL
  },
  OpenEventLogW: {
    parameters: [
      "buffer", // LPCWSTR lpUNCServerName: NULL for this machine
      "buffer", // LPCWSTR lpSourceName: the log, e.g. "Application"
    ],
    result: "pointer", // HANDLE, NULL on failure; closed with CloseEventLog
  },
  GetNumberOfEventLogRecords: {
    parameters: [
      "pointer", // HANDLE hEventLog: from OpenEventLogW
      "buffer", // PDWORD NumberOfRecords: out
    ],
    result: "i32", // BOOL
  },
  CloseEventLog: {
    parameters: ["pointer"], // HANDLE hEventLog
    result: "i32", // BOOL
  },
  RegCreateKeyExW: {
    parameters: [
      "pointer", // HKEY hKey: e.g. HKEY_LOCAL_MACHINE
      "buffer", // LPCWSTR lpSubKey
      "u32", // DWORD Reserved: 0
      "buffer", // LPWSTR lpClass: NULL
      "u32", // DWORD dwOptions: REG_OPTION_NON_VOLATILE 0
      "u32", // REGSAM samDesired: KEY_SET_VALUE
      "buffer", // LPSECURITY_ATTRIBUTES: NULL (inherits the parent's security)
      "buffer", // PHKEY phkResult: out, close with RegCloseKey
      "buffer", // LPDWORD lpdwDisposition: out (1 created, 2 opened) or NULL
    ],
    result: "i32", // LSTATUS: ERROR_SUCCESS or the error code (not through GetLastError)
  },
  RegSetValueExW: {
    parameters: [
      "pointer", // HKEY hKey
      "buffer", // LPCWSTR lpValueName
      "u32", // DWORD Reserved: 0
      "u32", // DWORD dwType: REG_SZ 1, REG_EXPAND_SZ 2, REG_DWORD 4
      "buffer", // const BYTE* lpData: UTF-16 with its NUL, or a little-endian DWORD
      "u32", // DWORD cbData: bytes, the NUL included
    ],
    result: "i32", // LSTATUS
  },
  RegDeleteKeyW: {
    parameters: [
      "pointer", // HKEY hKey
      "buffer", // LPCWSTR lpSubKey: a key without subkeys
    ],
    result: "i32", // LSTATUS
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** HKEY_LOCAL_MACHINE: (HKEY)(LONG)0x80000002, sign-extended on x64. */
export const HKEY_LOCAL_MACHINE_VALUE = 0xffff_ffff_8000_0002n;
/** KEY_READ access to a registry key. */
export const KEY_READ = 0x20019;
/** RegGetValueW's dwFlags: only a REG_SZ value is read. */
export const RRF_RT_REG_SZ = 0x2;

/** Service types, start types and error control. */
export const SERVICE_WIN32_OWN_PROCESS = 0x10;
export const SERVICE_AUTO_START = 2;
export const SERVICE_DEMAND_START = 3;
export const SERVICE_ERROR_NORMAL = 1;
export const SERVICE_NO_CHANGE = 0xffff_ffff;
/** Service states (dwCurrentState). */
export const SERVICE_STOPPED = 1;
export const SERVICE_START_PENDING = 2;
export const SERVICE_STOP_PENDING = 3;
export const SERVICE_RUNNING = 4;
export const SERVICE_CONTINUE_PENDING = 5;
export const SERVICE_PAUSE_PENDING = 6;
export const SERVICE_PAUSED = 7;
/** Controls a service accepts (dwControlsAccepted). */
export const SERVICE_ACCEPT_STOP = 0x1;
export const SERVICE_ACCEPT_SHUTDOWN = 0x4;
export const SERVICE_ACCEPT_SESSIONCHANGE = 0x80;
/** Control codes HandlerEx receives. */
export const SERVICE_CONTROL_STOP = 1;
export const SERVICE_CONTROL_INTERROGATE = 4;
export const SERVICE_CONTROL_SHUTDOWN = 5;
export const SERVICE_CONTROL_SESSIONCHANGE = 14;
/** Access rights of the service control manager and of services. */
export const SC_MANAGER_CONNECT = 0x1;
export const SC_MANAGER_CREATE_SERVICE = 0x2;
export const SC_MANAGER_ALL_ACCESS = 0xf003f;
export const SERVICE_QUERY_STATUS = 0x4;
export const SERVICE_START = 0x10;
export const SERVICE_STOP = 0x20;
export const SERVICE_USER_DEFINED_CONTROL = 0x100;
export const SERVICE_ALL_ACCESS = 0xf01ff;
export const DELETE = 0x10000;
/** ChangeServiceConfig2W levels and failure action types. */
export const SERVICE_CONFIG_DESCRIPTION = 1;
export const SERVICE_CONFIG_FAILURE_ACTIONS = 2;
export const SC_ACTION_NONE = 0;
export const SC_ACTION_RESTART = 1;
/** QueryServiceStatusEx level. */
export const SC_STATUS_PROCESS_INFO = 0;
/** Security descriptors. */
export const SDDL_REVISION_1 = 1;
export const SE_FILE_OBJECT = 1;
export const OWNER_SECURITY_INFORMATION = 0x1;
export const GROUP_SECURITY_INFORMATION = 0x2;
export const DACL_SECURITY_INFORMATION = 0x4;
export const PROTECTED_DACL_SECURITY_INFORMATION = 0x8000_0000;
/** Tokens. */
export const TOKEN_QUERY = 0x8;
export const TokenElevation = 20;

// Preshutdown, failure actions flag, service access rights, owners.
/** SERVICE_ACCEPT_PRESHUTDOWN and SERVICE_CONTROL_PRESHUTDOWN. */
export const SERVICE_ACCEPT_PRESHUTDOWN = 0x100;
export const SERVICE_CONTROL_PRESHUTDOWN = 0xf;
/** ChangeServiceConfig2W levels: SERVICE_FAILURE_ACTIONS_FLAG and SERVICE_PRESHUTDOWN_INFO. */
export const SERVICE_CONFIG_FAILURE_ACTIONS_FLAG = 4;
export const SERVICE_CONFIG_PRESHUTDOWN_INFO = 7;
/** More service access rights. */
export const SERVICE_QUERY_CONFIG = 0x1;
export const SERVICE_INTERROGATE = 0x80;
export const READ_CONTROL = 0x2_0000;
export const WRITE_DAC = 0x4_0000;
export const WRITE_OWNER = 0x8_0000;
/** SE_SERVICE for the *SecurityInfo calls. */
export const SE_SERVICE = 2;

let library: Deno.DynamicLibrary<typeof ADVAPI32_SYMBOLS> | undefined;

/** advapi32.dll's symbols, opening the library on first use. */
export function advapi32(): Deno.DynamicLibrary<typeof ADVAPI32_SYMBOLS>["symbols"] {
  library ??= openSystemLibrary("advapi32.dll", ADVAPI32_SYMBOLS);
  return library.symbols;
}

/** ReportEventW types. */
export const EVENTLOG_ERROR_TYPE = 0x1;
export const EVENTLOG_WARNING_TYPE = 0x2;
export const EVENTLOG_INFORMATION_TYPE = 0x4;
/** Registry value types and access. */
export const REG_SZ = 1;
export const REG_EXPAND_SZ = 2;
export const REG_DWORD = 4;
export const KEY_SET_VALUE = 0x2;
export const REG_OPTION_NON_VOLATILE = 0;
