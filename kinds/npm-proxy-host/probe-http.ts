/**
 * One GET through NPM's published port, from the host: nothing inside NPM's container is needed (a slim or
 * hardened image has no shell or HTTP client, and `docker exec` may be refused). The hostname goes in the Host
 * header, and as SNI over TLS so nginx picks the host's server block and certificate. Redirects are not
 * followed: NPM's "force SSL" answers 301 to https, and that is nginx answering for the host.
 */
import http from "node:http";
import https from "node:https";
import { TackError } from "../../core/errors.js";
import type { HostPort } from "./nginx-env.js";
import type { ProbeRequest } from "./probe-exec.js";

export interface PortRequest extends ProbeRequest {
  to: HostPort;
  tls: boolean;
  timeoutMs: number;
}

/** Resolves with the HTTP status of the answer; rejects when none came (refused, reset, timed out). */
export function requestThroughPort({ to, tls, domain, path, agent, timeoutMs }: PortRequest): Promise<number> {
  return new Promise((resolve, reject) => {
    const options: https.RequestOptions = {
      host: to.address,
      port: to.port,
      path,
      method: "GET",
      headers: { Host: domain, "User-Agent": agent, Connection: "close" },
      agent: false, // a fresh connection per probe: a kept-alive one may belong to a worker the reload retired
      signal: AbortSignal.timeout(timeoutMs),
    };
    const done = (res: http.IncomingMessage) => {
      res.resume(); // the body is not needed; drain it so the socket closes
      resolve(res.statusCode ?? 0);
    };
    // The probe checks routing, not the certificate: NPM's may be self-signed, custom or not yet issued.
    const req = tls ? https.request({ ...options, servername: domain, rejectUnauthorized: false }, done) : http.request(options, done);
    req.on("error", (err) => {
      const timedOut = err.name === "TimeoutError" || err.name === "AbortError";
      reject(timedOut ? new TackError(`no answer within ${timeoutMs} ms`, { cause: err }) : err);
    });
    req.end();
  });
}
