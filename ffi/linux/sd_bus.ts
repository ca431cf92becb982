/**
 * A small D-Bus client on sd-bus: connect to a bus address, call methods, receive the signals of
 * match rules, and decode any message body into plain values. Nothing here knows what a session
 * is. One owner uses a connection at a time: {@link SdBus.call} runs on a worker thread, and
 * {@link SdBus.wait} only polls the socket, so the caller makes no call while another is running.
 *
 * @module
 */
import {
  check,
  cString,
  EFD_CLOEXEC,
  libc,
  libsystemd,
  POLLIN,
  SD_BUS_MESSAGE_SIGNAL,
  SdBusError,
} from "./libsystemd.ts";

/** A decoded D-Bus value: basic types as numbers, bigints, booleans and strings. */
export type DBusValue =
  | number
  | bigint
  | boolean
  | string
  | DBusValue[]
  | { [key: string]: DBusValue };

/** One argument of a method call: its D-Bus type and value. */
export type DBusArgument = ["s", string] | ["b", boolean] | ["u", number] | ["t", bigint];

/** A signal as received: where it came from and its decoded arguments. */
export interface DBusSignal {
  path: string;
  interface: string;
  member: string;
  args: DBusValue[];
}

/** What {@link SdBus.call} returns: the decoded reply, and the message when asked to keep it. */
export interface CallResult {
  values: DBusValue[];
  /** The reply itself (it owns the unix fds it carries); release it with {@link unrefMessage}. */
  message?: Deno.PointerObject;
}

/** The method call to make. */
export interface MethodCall {
  destination: string;
  path: string;
  interface: string;
  member: string;
  args?: DBusArgument[];
  /** Keep the reply message (its unix fds stay open until it is released). */
  keepReply?: boolean;
}

function pointerOut(buffer: BigUint64Array): Deno.PointerValue {
  return Deno.UnsafePointer.create(buffer[0]);
}

function cText(pointer: Deno.PointerValue): string {
  return pointer ? Deno.UnsafePointerView.getCString(pointer) : "";
}

/** Releases a message kept by {@link SdBus.call} (closing the fds it carries). */
export function unrefMessage(message: Deno.PointerObject): void {
  libsystemd().sd_bus_message_unref(message);
}

/** A connection to one bus. */
export class SdBus {
  #bus: Deno.PointerObject | null;
  #wake: number;
  #pollfds = new Uint8Array(16);

  private constructor(bus: Deno.PointerObject, wake: number) {
    this.#bus = bus;
    this.#wake = wake;
  }

  /** Connects to `address` (e.g. "unix:path=/run/dbus/system_bus_socket") and says Hello. */
  static open(address: string): SdBus {
    const sd = libsystemd();
    const out = new BigUint64Array(1);
    check("sd_bus_new", sd.sd_bus_new(new Uint8Array(out.buffer)));
    const bus = pointerOut(out)!;
    try {
      check("sd_bus_set_address", sd.sd_bus_set_address(bus, cString(address)));
      check("sd_bus_set_bus_client", sd.sd_bus_set_bus_client(bus, 1));
      check("sd_bus_negotiate_fds", sd.sd_bus_negotiate_fds(bus, 1));
      check("sd_bus_start", sd.sd_bus_start(bus));
      const wake = libc().eventfd(0, EFD_CLOEXEC);
      if (wake < 0) throw new SdBusError("eventfd", 24);
      return new SdBus(bus, wake);
    } catch (error) {
      sd.sd_bus_flush_close_unref(bus);
      throw error;
    }
  }

  #open(): Deno.PointerObject {
    if (!this.#bus) throw new SdBusError("sd-bus", 107, { detail: "the connection is closed" });
    return this.#bus;
  }

  /** Asks the bus to route the messages of `rule` (a match rule) to this connection. */
  addMatch(rule: string): void {
    check(
      "sd_bus_add_match",
      libsystemd().sd_bus_add_match(this.#open(), null, cString(rule), null, null),
    );
  }

  /** Calls a method and waits for its reply; an error reply throws an SdBusError with its name. */
  async call(call: MethodCall): Promise<CallResult> {
    const sd = libsystemd();
    const bus = this.#open();
    const out = new BigUint64Array(1);
    check(
      "sd_bus_message_new_method_call",
      sd.sd_bus_message_new_method_call(
        bus,
        new Uint8Array(out.buffer),
        cString(call.destination),
        cString(call.path),
        cString(call.interface),
        cString(call.member),
      ),
    );
    const message = pointerOut(out)!;
    const error = new Uint8Array(24); // sd_bus_error: name, message, _need_free
    const reply = new BigUint64Array(1);
    try {
      for (const [type, value] of call.args ?? []) appendBasic(message, type, value);
      const result = await sd.sd_bus_call(bus, message, 0n, error, new Uint8Array(reply.buffer));
      if (result < 0) throw callError(call, -result, error);
    } finally {
      sd.sd_bus_message_unref(message);
      sd.sd_bus_error_free(error);
    }
    const replyMessage = pointerOut(reply)!;
    try {
      const values = readAll(replyMessage);
      if (call.keepReply) return { values, message: replyMessage };
      sd.sd_bus_message_unref(replyMessage);
      return { values };
    } catch (readError) {
      sd.sd_bus_message_unref(replyMessage);
      throw readError;
    }
  }

  /**
   * The next signal already received, or undefined when none is waiting (then {@link wait}).
   * Messages other than signals (the bus's own replies) are consumed and dropped.
   */
  nextSignal(): DBusSignal | undefined {
    const sd = libsystemd();
    const bus = this.#open();
    const out = new BigUint64Array(1);
    while (true) {
      out[0] = 0n;
      const result = check("sd_bus_process", sd.sd_bus_process(bus, new Uint8Array(out.buffer)));
      const message = pointerOut(out);
      if (message) {
        try {
          const signal = readSignal(message);
          if (signal) return signal;
        } finally {
          sd.sd_bus_message_unref(message);
        }
      }
      if (result === 0) return undefined;
    }
  }

  /** Resolves when the bus has something to read, or when {@link interrupt} was called. */
  async wait(): Promise<void> {
    const bus = this.#open();
    const sd = libsystemd();
    const view = new DataView(this.#pollfds.buffer);
    view.setInt32(0, sd.sd_bus_get_fd(bus), true);
    view.setInt16(4, sd.sd_bus_get_events(bus) || POLLIN, true);
    view.setInt16(6, 0, true);
    view.setInt32(8, this.#wake, true);
    view.setInt16(12, POLLIN, true);
    view.setInt16(14, 0, true);
    await libc().poll(this.#pollfds, 2n, -1);
  }

  /** Ends a {@link wait} in progress (and the next one: call before {@link close}). */
  interrupt(): void {
    if (this.#wake < 0) return;
    const one = new BigUint64Array([1n]);
    libc().write(this.#wake, new Uint8Array(one.buffer), 8n);
  }

  /** Closes the connection; idempotent. Not while a call or a wait is in progress. */
  close(): void {
    if (this.#bus) libsystemd().sd_bus_flush_close_unref(this.#bus);
    this.#bus = null;
    if (this.#wake >= 0) libc().close(this.#wake);
    this.#wake = -1;
  }
}

function appendBasic(
  message: Deno.PointerObject,
  type: string,
  value: string | boolean | number | bigint,
) {
  let data: Uint8Array<ArrayBuffer>;
  if (type === "s") {
    data = cString(value as string); // a string is passed as the const char* itself
  } else if (type === "t") {
    data = new Uint8Array(new BigUint64Array([value as bigint]).buffer);
  } else {
    const number = type === "b" ? (value ? 1 : 0) : value as number;
    data = new Uint8Array(new Uint32Array([number]).buffer);
  }
  check(
    "sd_bus_message_append_basic",
    libsystemd().sd_bus_message_append_basic(message, type.charCodeAt(0), data),
  );
}

function callError(call: MethodCall, errno: number, error: Uint8Array): SdBusError {
  const view = new DataView(error.buffer);
  const name = cText(Deno.UnsafePointer.create(view.getBigUint64(0, true)));
  const text = cText(Deno.UnsafePointer.create(view.getBigUint64(8, true)));
  const detail = name ? `${name}${text ? `: ${text}` : ""}` : undefined;
  return new SdBusError(`${call.interface}.${call.member}`, errno, {
    dbusName: name || undefined,
    detail,
  });
}

function readSignal(message: Deno.PointerObject): DBusSignal | undefined {
  const sd = libsystemd();
  const type = new Uint8Array(1);
  check("sd_bus_message_get_type", sd.sd_bus_message_get_type(message, type));
  if (type[0] !== SD_BUS_MESSAGE_SIGNAL) return undefined;
  return {
    path: cText(sd.sd_bus_message_get_path(message)),
    interface: cText(sd.sd_bus_message_get_interface(message)),
    member: cText(sd.sd_bus_message_get_member(message)),
    args: readAll(message),
  };
}

/** Decodes the rest of the current container of `message`. */
function readAll(message: Deno.PointerObject): DBusValue[] {
  const sd = libsystemd();
  const type = new Uint8Array(1);
  const contents = new BigUint64Array(1);
  const values: DBusValue[] = [];
  while (
    check(
      "sd_bus_message_peek_type",
      sd.sd_bus_message_peek_type(message, type, new Uint8Array(contents.buffer)),
    ) > 0
  ) {
    const signature = cText(pointerOut(contents));
    values.push(readOne(message, String.fromCharCode(type[0]), signature));
  }
  return values;
}

const CONTAINERS = new Set(["a", "r", "e", "v"]);

function readOne(message: Deno.PointerObject, type: string, signature: string): DBusValue {
  const sd = libsystemd();
  if (!CONTAINERS.has(type)) return readBasic(message, type);
  check(
    "sd_bus_message_enter_container",
    sd.sd_bus_message_enter_container(message, type.charCodeAt(0), cString(signature)),
  );
  const inner = readAll(message);
  check("sd_bus_message_exit_container", sd.sd_bus_message_exit_container(message));
  if (type === "v") return inner[0];
  if (type === "a" && signature.startsWith("{s")) {
    return Object.fromEntries(inner as [string, DBusValue][]);
  }
  return inner;
}

function readBasic(message: Deno.PointerObject, type: string): DBusValue {
  const data = new Uint8Array(8);
  check(
    "sd_bus_message_read_basic",
    libsystemd().sd_bus_message_read_basic(message, type.charCodeAt(0), data),
  );
  const view = new DataView(data.buffer);
  switch (type) {
    case "y":
      return view.getUint8(0);
    case "b":
      return view.getInt32(0, true) !== 0;
    case "n":
      return view.getInt16(0, true);
    case "q":
      return view.getUint16(0, true);
    case "i":
    case "h":
      return view.getInt32(0, true);
    case "u":
      return view.getUint32(0, true);
    case "x":
      return view.getBigInt64(0, true);
    case "t":
      return view.getBigUint64(0, true);
    case "d":
      return view.getFloat64(0, true);
    default: // "s", "o", "g": a const char* owned by the message
      return cText(Deno.UnsafePointer.create(view.getBigUint64(0, true)));
  }
}
