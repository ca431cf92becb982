/**
 * libsystemd.so.0: the sd-bus D-Bus client (every systemd distribution ships it), and the few
 * libc.so.6 calls that waiting on its socket needs. Opened lazily by {@link libsystemd} and
 * {@link libc}. Every sd-bus function returns a negative errno on failure; {@link check} turns
 * that into an {@link SdBusError}.
 *
 * @module
 */

/** The libsystemd.so.0 symbols the agent uses (sd-bus, systemd 221 and later). */
export const LIBSYSTEMD_SYMBOLS = {
  sd_bus_new: {
    parameters: ["buffer"], // sd_bus** ret: out
    result: "i32",
  },
  sd_bus_set_address: {
    parameters: ["pointer", "buffer"], // sd_bus* bus, const char* address
    result: "i32",
  },
  sd_bus_set_bus_client: {
    parameters: ["pointer", "i32"], // sd_bus* bus, int b: 1 (say Hello to a bus daemon)
    result: "i32",
  },
  sd_bus_negotiate_fds: {
    parameters: ["pointer", "i32"], // sd_bus* bus, int b: 1 (accept unix fds: Inhibit's "h")
    result: "i32",
  },
  sd_bus_start: {
    parameters: ["pointer"], // sd_bus* bus: connect and authenticate (EXTERNAL, the uid)
    result: "i32",
  },
  sd_bus_flush_close_unref: {
    parameters: ["pointer"], // sd_bus* bus
    result: "pointer", // always NULL
  },
  sd_bus_get_fd: {
    parameters: ["pointer"], // sd_bus* bus
    result: "i32", // the socket, to poll
  },
  sd_bus_get_events: {
    parameters: ["pointer"], // sd_bus* bus
    result: "i32", // the poll events to wait for (POLLIN, POLLOUT)
  },
  sd_bus_process: {
    parameters: [
      "pointer", // sd_bus* bus
      "buffer", // sd_bus_message** ret: out, a message no callback handled (NULL: none)
    ],
    result: "i32", // > 0: more may follow; 0: nothing to do
  },
  sd_bus_add_match: {
    parameters: [
      "pointer", // sd_bus* bus
      "pointer", // sd_bus_slot** slot: NULL (the match lives as long as the bus)
      "buffer", // const char* match: a match rule
      "pointer", // sd_bus_message_handler_t callback: NULL (sd_bus_process returns the message)
      "pointer", // void* userdata: NULL
    ],
    result: "i32",
  },
  sd_bus_message_new_method_call: {
    parameters: [
      "pointer", // sd_bus* bus
      "buffer", // sd_bus_message** m: out
      "buffer", // const char* destination
      "buffer", // const char* path
      "buffer", // const char* interface
      "buffer", // const char* member
    ],
    result: "i32",
  },
  sd_bus_message_append_basic: {
    parameters: [
      "pointer", // sd_bus_message* m
      "u8", // char type: 's', 'b', 'u'...
      "buffer", // const void* p: the value (for 's', the NUL-terminated string itself)
    ],
    result: "i32",
  },
  sd_bus_call: {
    parameters: [
      "pointer", // sd_bus* bus
      "pointer", // sd_bus_message* m
      "u64", // uint64_t usec: timeout (0: the default, 25 s)
      "buffer", // sd_bus_error* ret_error: out, 24 bytes, free with sd_bus_error_free
      "buffer", // sd_bus_message** reply: out
    ],
    result: "i32",
    // Waits for the reply on a worker thread; the caller makes no other call on the bus meanwhile.
    nonblocking: true,
  },
  sd_bus_error_free: {
    parameters: ["buffer"], // sd_bus_error* e
    result: "void",
  },
  sd_bus_message_unref: {
    parameters: ["pointer"], // sd_bus_message* m
    result: "pointer", // always NULL
  },
  sd_bus_message_get_type: {
    parameters: ["pointer", "buffer"], // sd_bus_message* m, uint8_t* type: out
    result: "i32",
  },
  sd_bus_message_get_path: {
    parameters: ["pointer"], // sd_bus_message* m
    result: "pointer", // const char*, owned by the message
  },
  sd_bus_message_get_interface: {
    parameters: ["pointer"], // sd_bus_message* m
    result: "pointer", // const char*, owned by the message
  },
  sd_bus_message_get_member: {
    parameters: ["pointer"], // sd_bus_message* m
    result: "pointer", // const char*, owned by the message
  },
  sd_bus_message_peek_type: {
    parameters: [
      "pointer", // sd_bus_message* m
      "buffer", // char* type: out, the next element's type
      "buffer", // const char** contents: out, a container's signature
    ],
    result: "i32", // > 0: an element follows; 0: the end of the container
  },
  sd_bus_message_read_basic: {
    parameters: [
      "pointer", // sd_bus_message* m
      "u8", // char type
      "buffer", // void* p: out, 8 bytes hold every basic type (a string: const char*)
    ],
    result: "i32",
  },
  sd_bus_message_enter_container: {
    parameters: [
      "pointer", // sd_bus_message* m
      "u8", // char type: 'a', 'r', 'e', 'v'
      "buffer", // const char* contents: its signature, from peek_type
    ],
    result: "i32",
  },
  sd_bus_message_exit_container: {
    parameters: ["pointer"], // sd_bus_message* m
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The libc.so.6 symbols: wait on the bus socket without blocking the event loop. */
export const LIBC_SYMBOLS = {
  poll: {
    parameters: [
      "buffer", // struct pollfd* fds: {int fd; short events; short revents} each
      "u64", // nfds_t nfds
      "i32", // int timeout: milliseconds, -1 forever
    ],
    result: "i32",
    nonblocking: true,
  },
  eventfd: {
    parameters: ["u32", "i32"], // unsigned int initval, int flags: EFD_CLOEXEC
    result: "i32",
  },
  write: {
    parameters: ["i32", "buffer", "usize"], // int fd, const void* buf, size_t count
    result: "isize",
  },
  close: {
    parameters: ["i32"], // int fd
    result: "i32",
  },
  strerror: {
    parameters: ["i32"], // int errnum
    result: "pointer", // const char*
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** poll(2) event bits. */
export const POLLIN = 0x001;
/** eventfd(2) flag. */
export const EFD_CLOEXEC = 0o2000000;

/** sd_bus_message_get_type values. */
export const SD_BUS_MESSAGE_SIGNAL = 4;

let systemd: Deno.DynamicLibrary<typeof LIBSYSTEMD_SYMBOLS> | undefined;
let clib: Deno.DynamicLibrary<typeof LIBC_SYMBOLS> | undefined;

/** libsystemd.so.0's symbols, opening the library on first use. */
export function libsystemd(): Deno.DynamicLibrary<typeof LIBSYSTEMD_SYMBOLS>["symbols"] {
  systemd ??= Deno.dlopen("libsystemd.so.0", LIBSYSTEMD_SYMBOLS);
  return systemd.symbols;
}

/** libc.so.6's symbols, opening the library on first use. */
export function libc(): Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"] {
  clib ??= Deno.dlopen("libc.so.6", LIBC_SYMBOLS);
  return clib.symbols;
}

/** A failed sd-bus call: the function, the errno, and the system's text for it. */
export class SdBusError extends Error {
  /** The errno (positive). */
  readonly code: number;
  /** The function that failed, e.g. "sd_bus_start". */
  readonly functionName: string;
  /** The D-Bus error name of a method call's error reply, when there was one. */
  readonly dbusName?: string;

  constructor(
    functionName: string,
    code: number,
    options: ErrorOptions & { dbusName?: string; detail?: string } = {},
  ) {
    const detail = options.detail ?? errnoText(code);
    super(`${functionName} failed: ${detail}`, options);
    this.name = "SdBusError";
    this.code = code;
    this.functionName = functionName;
    this.dbusName = options.dbusName;
  }
}

/** The system's text for `errno` ("Connection refused"), or "error N". */
export function errnoText(errno: number): string {
  try {
    const text = libc().strerror(errno);
    return text ? Deno.UnsafePointerView.getCString(text) : `error ${errno}`;
  } catch {
    return `error ${errno}`;
  }
}

/** Returns `result` when it is not negative; otherwise throws an {@link SdBusError}. */
export function check(functionName: string, result: number): number {
  if (result < 0) throw new SdBusError(functionName, -result);
  return result;
}

/** A NUL-terminated UTF-8 copy of `text` for a `const char*` parameter. */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text + "\0");
}
