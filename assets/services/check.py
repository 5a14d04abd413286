#!/usr/bin/env python3
"""studioml-azure check tool: prove that RabbitMQ and the S3 file server serve, by speaking their protocols.

Python's standard library only (it runs on the service VMs, Ubuntu 24.04's python3, and in the probe pod). Each
check prints one line, ``<what>: ok (...)`` (exit 0) or ``<what>: failed: <why>`` (exit 1); no secret is printed.

  check.py amqp                  AMQP 0-9-1 login (PLAIN) and open of the vhost, with /etc/studioml/check.json's "amqp"
  check.py s3                    S3 ListBuckets signed with SigV4, with check.json's "s3" keys
  check.py s3-buckets NAME...    create the buckets (PUT Bucket, SigV4) with check.json's "s3_admin" keys
  check.py tls                   a TLS handshake with check.json's "tls" listener, trusting only the install CA and
                                 checking the certificate's name; prints when the certificate expires
  check.py wait-port HOST PORT SECONDS
  check.py probe [--amqp HOST:PORT] [--s3 URL] [--tcp HOST:PORT]...
                                 from a pod: the same checks against the given endpoints, credentials from the
                                 environment (AMQP_USER, AMQP_PASSWORD, S3_ACCESS_KEY, S3_SECRET_KEY); every result
                                 also goes to /dev/termination-log
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
import json
import os
import socket
import ssl
import struct
import sys
import time
import urllib.parse

CONFIG = "/etc/studioml/check.json"
TIMEOUT = 10.0


class Failed(Exception):
    """A check that did not pass, with the reason to print."""


# --- AMQP 0-9-1 ---------------------------------------------------------------------------------------------------

def _frame(kind: int, channel: int, payload: bytes) -> bytes:
    return struct.pack(">BHI", kind, channel, len(payload)) + payload + b"\xce"


def _read_frame(sock: socket.socket) -> tuple[int, bytes]:
    head = _recv(sock, 7)
    kind, _channel, size = struct.unpack(">BHI", head)
    payload = _recv(sock, size)
    if _recv(sock, 1) != b"\xce":
        raise Failed("bad AMQP frame end")
    return kind, payload


def _recv(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        try:
            chunk = sock.recv(n - len(data))
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise Failed("the server closed the connection")
        data += chunk
    return data


def _shortstr(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">B", len(raw)) + raw


def _longstr(raw: bytes) -> bytes:
    return struct.pack(">I", len(raw)) + raw


def _method(payload: bytes) -> tuple[int, int, bytes]:
    cls, meth = struct.unpack(">HH", payload[:4])
    return cls, meth, payload[4:]


def _close_reason(args: bytes) -> str:
    code = struct.unpack(">H", args[:2])[0]
    text = args[3:3 + args[2]].decode(errors="replace")
    return text or f"reply code {code}"


def _expect(sock: socket.socket, method: int, when: str) -> bytes:
    """The arguments of the next Connection method, which must be ``method``; a Connection.Close is the refusal."""
    _kind, payload = _read_frame(sock)
    cls, meth, args = _method(payload)
    if (cls, meth) == (10, 50):
        raise Failed(_close_reason(args))
    if (cls, meth) != (10, method):
        raise Failed(f"unexpected AMQP method {cls}.{meth} {when}")
    return args


def amqp(host: str, port: int, user: str, password: str, vhost: str = "/") -> str:
    """Log in with PLAIN and open the vhost; returns what passed, raises :class:`Failed`."""
    try:
        sock = socket.create_connection((host, port), timeout=TIMEOUT)
    except TimeoutError:
        raise Failed(f"connection timed out ({host}:{port})") from None
    except OSError as err:
        raise Failed(f"connection refused ({host}:{port}): {err.strerror or err}") from None
    with sock:
        sock.sendall(b"AMQP\x00\x00\x09\x01")
        kind, payload = _read_frame(sock)
        if kind != 1 or _method(payload)[:2] != (10, 10):
            raise Failed("not an AMQP 0-9-1 server")
        response = b"\x00" + user.encode() + b"\x00" + password.encode()
        # capabilities.authentication_failure_close: a refused login is told (ACCESS_REFUSED), not just dropped
        caps = _shortstr("authentication_failure_close") + b"t\x01"
        table = _shortstr("capabilities") + b"F" + _longstr(caps)
        start_ok = struct.pack(">HH", 10, 11) + _longstr(table) + _shortstr("PLAIN") + _longstr(response) \
            + _shortstr("en_US")
        sock.sendall(_frame(1, 0, start_ok))
        args = _expect(sock, 30, "after login")  # Connection.Tune
        channel_max, frame_max, _heartbeat = struct.unpack(">HIH", args[:8])
        sock.sendall(_frame(1, 0, struct.pack(">HHHIH", 10, 31, channel_max, frame_max, 0)))
        sock.sendall(_frame(1, 0, struct.pack(">HH", 10, 40) + _shortstr(vhost) + _shortstr("") + b"\x00"))
        _expect(sock, 41, f"opening vhost {vhost}")  # Connection.OpenOk
        sock.sendall(_frame(1, 0, struct.pack(">HHHBHH", 10, 50, 200, 0, 0, 0)))
    return f"{user}@{host}:{port}, vhost {vhost}"


# --- S3 with AWS Signature Version 4 -------------------------------------------------------------------------------

def _sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _quote(text: str, slash: bool) -> str:
    return urllib.parse.quote(text, safe="-_.~" + ("/" if slash else ""))


def authorization(method: str, host: str, path: str, query: dict[str, str], amz_date: str, access: str,
                  secret: str, region: str = "us-east-1",
                  payload_hash: str = hashlib.sha256(b"").hexdigest()) -> str:
    """The SigV4 ``Authorization`` header of an S3 request signing host, x-amz-content-sha256 and x-amz-date."""
    day = amz_date[:8]
    headers = {"host": host, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    canonical_query = "&".join(f"{_quote(k, False)}={_quote(v, False)}" for k, v in sorted(query.items()))
    canonical = "\n".join([method, _quote(path, True), canonical_query,
                           *(f"{k}:{headers[k]}" for k in sorted(headers)), "", signed, payload_hash])
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _sign(_sign(_sign(_sign(("AWS4" + secret).encode(), day), region), "s3"), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders={signed}, Signature={signature}"


def s3_request(endpoint: str, access: str, secret: str, method: str, path: str = "/",
               region: str = "us-east-1") -> tuple[int, bytes]:
    """One path-style S3 request signed with SigV4 (empty payload)."""
    url = urllib.parse.urlsplit(endpoint)
    amz_date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    payload_hash = hashlib.sha256(b"").hexdigest()
    headers = {"host": url.netloc, "x-amz-content-sha256": payload_hash, "x-amz-date": amz_date,
               "Authorization": authorization(method, url.netloc, path, {}, amz_date, access, secret, region)}
    cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    conn = cls(url.hostname or "", url.port, timeout=TIMEOUT)
    try:
        conn.request(method, path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    except TimeoutError:
        raise Failed(f"connection timed out ({url.netloc})") from None
    except OSError as err:
        raise Failed(f"connection refused ({url.netloc}): {err.strerror or err}") from None
    finally:
        conn.close()


def _s3_error(body: bytes, status: int) -> str:
    text = body.decode(errors="replace")
    code = text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else f"HTTP {status}"
    return code


def s3_list(endpoint: str, access: str, secret: str) -> str:
    """ListBuckets; returns the bucket names, raises :class:`Failed`."""
    status, body = s3_request(endpoint, access, secret, "GET", "/")
    if status != 200:
        raise Failed(_s3_error(body, status))
    text = body.decode(errors="replace")
    names = sorted(part.split("</Name>", 1)[0] for part in text.split("<Name>")[1:])
    return f"{len(names)} buckets: {', '.join(names) or 'none'}"


def s3_buckets(endpoint: str, access: str, secret: str, names: list[str]) -> list[str]:
    """Create each bucket (one already there is fine); returns the lines to print."""
    out = []
    for name in names:
        status, body = s3_request(endpoint, access, secret, "PUT", f"/{name}")
        if status not in (200, 409) or (status == 409 and "BucketAlreadyOwnedByYou" not in body.decode(errors="replace")
                                        and "BucketAlreadyExists" not in body.decode(errors="replace")):
            raise Failed(f"{_s3_error(body, status)} creating bucket {name}")
        out.append(f"s3: bucket {name} ready")
    return out


# --- TLS ---------------------------------------------------------------------------------------------------------

def tls(host: str, port: int, name: str, ca: str) -> str:
    """Handshake with host:port as a client that trusts only ``ca`` and expects ``name`` in the certificate."""
    context = ssl.create_default_context(cafile=ca)
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT) as raw:
            with context.wrap_socket(raw, server_hostname=name) as conn:
                cert = conn.getpeercert() or {}
                until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ssl.cert_time_to_seconds(
                    str(cert.get("notAfter")))))
                return f"{name} at {host}:{port}, {conn.version()}, certificate valid until {until}"
    except ssl.SSLCertVerificationError as err:
        raise Failed(f"certificate not trusted: {err.verify_message}") from None
    except ssl.SSLError as err:
        raise Failed(f"TLS handshake failed: {err.reason}") from None
    except ConnectionRefusedError:
        raise Failed(f"connection refused ({host}:{port})") from None


# --- commands ------------------------------------------------------------------------------------------------------

def _config() -> dict:
    with open(CONFIG, encoding="utf-8") as fh:
        return json.load(fh)


def wait_port(host: str, port: int, seconds: float) -> str:
    """Wait until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection((host, port), timeout=2).close()
            return f"port {host}:{port}: open"
        except OSError:
            if time.monotonic() > deadline:
                raise Failed(f"nothing listens after {int(seconds)} s") from None
            time.sleep(2)


def _probe(args: list[str]) -> list[tuple[bool, str]]:
    env = os.environ
    results: list[tuple[bool, str]] = []
    pairs = list(zip(args[0::2], args[1::2]))
    for flag, target in pairs:
        host, _, port = target.rpartition(":")
        try:
            if flag == "--amqp":
                detail = amqp(host, int(port), env.get("AMQP_USER", ""), env.get("AMQP_PASSWORD", ""))
                results.append((True, f"amqp {target}: ok ({detail})"))
            elif flag == "--s3":
                detail = s3_list(target, env.get("S3_ACCESS_KEY", ""), env.get("S3_SECRET_KEY", ""))
                results.append((True, f"s3 {target}: ok ({detail})"))
            elif flag == "--tcp":
                socket.create_connection((host, int(port)), timeout=TIMEOUT).close()
                results.append((True, f"tcp {target}: ok (open)"))
            else:
                results.append((False, f"{flag} {target}: failed: unknown check"))
        except TimeoutError:
            results.append((False, f"{flag[2:]} {target}: failed: connection timed out"))
        except (Failed, OSError) as err:
            results.append((False, f"{flag[2:]} {target}: failed: {err}"))
    return results


def main(argv: list[str]) -> int:
    """Run one command; print its line(s); exit 0 only when everything passed."""
    if not argv:
        print(__doc__)
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd == "probe":
        results = _probe(args)
        text = "\n".join(line for _ok, line in results) + "\n"
        sys.stdout.write(text)
        try:
            with open("/dev/termination-log", "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError:
            pass
        return 0 if results and all(ok for ok, _line in results) else 1
    what = "port" if cmd == "wait-port" else ("s3" if cmd.startswith("s3") else cmd)
    try:
        if cmd == "wait-port":
            print(wait_port(args[0], int(args[1]), float(args[2])))
            return 0
        cfg = _config()
        if cmd == "amqp":
            c = cfg["amqp"]
            print(f"amqp: ok ({amqp(c['host'], int(c['port']), c['user'], c['password'], c.get('vhost', '/'))})")
        elif cmd == "s3":
            c = cfg["s3"]
            print(f"s3: ok ({s3_list(c['endpoint'], c['access_key'], c['secret_key'])})")
        elif cmd == "tls":
            c = cfg["tls"]
            print(f"tls: ok ({tls(c['host'], int(c['port']), c['name'], c['ca'])})")
        elif cmd == "s3-buckets":
            c = cfg["s3_admin"]
            print("\n".join(s3_buckets(c["endpoint"], c["access_key"], c["secret_key"], args)))
        else:
            print(__doc__)
            return 2
    except Failed as err:
        print(f"{what}: failed: {err}")
        return 1
    except (OSError, KeyError, ValueError) as err:
        print(f"{what}: failed: {type(err).__name__}: {err}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
