/*
 * Development stand-in for winagentUSM.exe (tests only): runs this checkout's test build entry
 * (MOD_TS: tests\windows\test_build.ts) with deno.exe and the agent's permissions, passing its own arguments, standard handles and exit
 * code through. Built by scripts/msi_dev_build.ts with mingw-w64:
 *   x86_64-w64-mingw32-gcc -municode -O2 -s -DDENO_EXE=L"..." -DMOD_TS=L"..." dev_launcher.c
 * The agent then sees deno.exe as its runtime, so `--service install` makes a development
 * install (the service runs deno.exe with that entry), as docs/development.md ("Development install") says.
 */
#include <windows.h>
#include <stdio.h>
#include <wchar.h>

#ifndef DENO_EXE
#error "DENO_EXE must be defined"
#endif
#ifndef MOD_TS
#error "MOD_TS must be defined"
#endif
#ifndef PERMISSIONS
#define PERMISSIONS L"--allow-read --allow-write --allow-net --allow-env --allow-sys --allow-ffi"
#endif

/* The command line after argv[0], as the process received it (quoting kept). */
static const wchar_t *arguments(const wchar_t *line) {
  if (*line == L'"') {
    line++;
    while (*line && *line != L'"') line++;
    if (*line) line++;
  } else {
    while (*line && *line != L' ' && *line != L'\t') line++;
  }
  while (*line == L' ' || *line == L'\t') line++;
  return line;
}

int wmain(void) {
  const wchar_t *rest = arguments(GetCommandLineW());
  size_t size = wcslen(DENO_EXE) + wcslen(MOD_TS) + wcslen(PERMISSIONS) + wcslen(rest) + 32;
  wchar_t *command = HeapAlloc(GetProcessHeap(), 0, size * sizeof(wchar_t));
  if (!command) return 1;
  _snwprintf(command, size, L"\"%ls\" run %ls \"%ls\" %ls", DENO_EXE, PERMISSIONS, MOD_TS, rest);
  STARTUPINFOW startup = {sizeof startup};
  PROCESS_INFORMATION process;
  if (!CreateProcessW(NULL, command, NULL, NULL, TRUE, 0, NULL, NULL, &startup, &process)) {
    fwprintf(stderr, L"dev_launcher: cannot start %ls: error %lu\n", DENO_EXE, GetLastError());
    return 1;
  }
  WaitForSingleObject(process.hProcess, INFINITE);
  DWORD code = 1;
  GetExitCodeProcess(process.hProcess, &code);
  CloseHandle(process.hThread);
  CloseHandle(process.hProcess);
  return (int)code;
}
