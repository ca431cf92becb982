/**
 * Opening the connection to the server: TCP, then TLS with the configured roots or pins, the
 * pin checked before any request byte, and the TLS session kept for the next handshake to
 * resume.
 *
 * @module
 */
import net from "node:net";
import tls from "node:tls";
import { normalizeFingerprint, TransportError } from "./transport_error.ts";

/** Where and how {@link connect} connects. */
export interface ConnectSettings {
  origin: string;
  host: string;
  port: number;
  /** TLS settings; undefined for http. */
  tls?: {
    servername: string | undefined;
    ca: string[] | undefined;
    verify: boolean;
    /** The accepted SHA-256 fingerprints; any one passes (a certificate rollover). */
    pins: string[] | undefined;
    /**
     * The TLS session of this server's last handshake, to resume: a server that closes every
     * connection (`Connection: close`) then costs an abbreviated handshake per request.
     */
    session?: Buffer;
    /** Handshakes that resumed a session. */
    resumed: number;
  };
}

/**
 * Opens a connection (TLS unless `settings.tls` is undefined) and resolves once it is connected
 * and, for TLS, the handshake passed and, when a pin is set, the certificate's fingerprint
 * matched: no request byte precedes the check. `opened` gets the socket at once, so that a
 * time-out can destroy it while the name is looked up, the connection made or the handshake
 * stalls.
 */
export function connect(settings: ConnectSettings, opened: (socket: net.Socket) => void) {
  const secure = settings.tls;
  const socket = secure
    ? tls.connect({
      host: settings.host,
      port: settings.port,
      servername: secure.servername,
      ca: secure.ca,
      rejectUnauthorized: secure.verify,
      session: secure.session,
    })
    : net.connect({ host: settings.host, port: settings.port });
  // Only sessions of handshakes that passed every check are kept for resuming (the session may
  // be told before or after the check).
  let verified = false;
  let latest: Buffer | undefined;
  socket.on("session", (session: Buffer) => {
    latest = session;
    if (secure && verified) secure.session = session;
  });
  const passed = () => {
    verified = true;
    if (!secure) return;
    latest ??= (socket as tls.TLSSocket).getSession();
    if (latest) secure.session = latest;
    if ((socket as tls.TLSSocket).isSessionReused()) secure.resumed++;
  };
  opened(socket);
  return new Promise<net.Socket>((resolve, reject) => {
    const settle = (error: Error | null) => {
      socket.off("error", settle);
      socket.off("close", closed);
      if (error) {
        socket.destroy();
        reject(error);
      } else {
        resolve(socket);
      }
    };
    const closed = () => settle(new Error("connection closed before it was established"));
    socket.once(secure ? "secureConnect" : "connect", () => {
      const pins = secure?.pins;
      if (pins === undefined) {
        passed();
        return settle(null);
      }
      // A resumed session still names the certificate of the handshake it resumes.
      const seen = normalizeFingerprint(
        (socket as tls.TLSSocket).getPeerCertificate().fingerprint256 ?? "",
      );
      if (pins.includes(seen)) {
        passed();
        return settle(null);
      }
      secure!.session = undefined;
      settle(
        new TransportError(
          "pin-mismatch",
          `The certificate of ${settings.origin} does not match tls_server_sha256: it is ${
            seen || "(none)"
          }, expected ${
            pins.join(" or ")
          }; nothing was sent; if the server's certificate was replaced, check it and run winagentUSM.exe --pin-server-cert again`,
        ),
      );
    });
    socket.once("error", settle);
    socket.once("close", closed);
  });
}
