#!/usr/bin/env python3
"""A raw RFC 8441 peer on Python's h2 package, for malformed extended CONNECTs.

Usage: py_h2_peer.py PORT CASE (PORT 0 with CASE serve-without-connect-protocol: a server). Speaks h2c with prior knowledge to 127.0.0.1:PORT, plays CASE, and prints one
JSON line: what the server answered per stream (status, RST_STREAM code, data), GOAWAY, and whether a well-formed
WebSocket on the same connection still works afterwards ("after": the echo it got, or null).

h2 builds the frames; where a case needs what h2 refuses to send (a DATA frame after END_STREAM), hyperframe
serializes it and it goes straight onto the socket.
"""
import json
import os
import socket
import struct
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from hyperframe.frame import DataFrame

PORT = int(sys.argv[1])
CASE = sys.argv[2]
DEADLINE = 5.0


def ws_frame(opcode, payload, fin=True, length=None):
    """A masked client WebSocket frame (RFC 6455 §5.2); `length` may claim more payload than is sent."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack('!H', n)
    else:
        head += bytes([0x80 | 127]) + struct.pack('!Q', n)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class Peer:
    def __init__(self):
        self.sock = socket.create_connection(('127.0.0.1', PORT), timeout=DEADLINE)
        config = h2.config.H2Configuration(client_side=True, header_encoding='utf-8', validate_outbound_headers=False)
        self.conn = h2.connection.H2Connection(config=config)
        self.streams = {}
        self.goaway = None
        self.closed = False
        self.settings_seen = False

    def stream(self, stream_id):
        return self.streams.setdefault(stream_id, {'status': None, 'reset': None, 'data': b'', 'ended': False})

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self, done):
        """Reads and handles events until done() or the deadline or the connection's end."""
        end = time.monotonic() + DEADLINE
        while not done() and not self.closed and time.monotonic() < end:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionError:
                chunk = b''
            if not chunk:
                self.closed = True
                break
            try:
                events = self.conn.receive_data(chunk)
            except h2.exceptions.ProtocolError as error:
                self.goaway = self.goaway or {'local_error': str(error)}
                self.closed = True
                break
            for event in events:
                self.handle(event)
            self.flush()

    def handle(self, event):
        if isinstance(event, h2.events.RemoteSettingsChanged):
            self.settings_seen = True
        elif isinstance(event, h2.events.ResponseReceived):
            self.stream(event.stream_id)['status'] = int(dict(event.headers)[':status'])
        elif isinstance(event, h2.events.DataReceived):
            self.stream(event.stream_id)['data'] += event.data
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            self.stream(event.stream_id)['ended'] = True
        elif isinstance(event, h2.events.StreamReset):
            self.stream(event.stream_id)['reset'] = int(event.error_code)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = {'code': int(event.error_code), 'last_stream_id': event.last_stream_id}

    def request(self, stream_id, fields):
        self.stream(stream_id)
        self.conn.send_headers(stream_id, fields)
        self.flush()

    def answered(self, stream_id):
        s = self.stream(stream_id)
        return lambda: s['status'] is not None or s['reset'] is not None

    def echo_works(self, stream_id):
        """Opens a well-formed WebSocket on `stream_id`, sends 'alive', returns the echoed payload or None."""
        if self.closed or self.goaway is not None:
            return None
        try:
            self.request(stream_id, extended_connect())
        except h2.exceptions.ProtocolError:
            return None
        self.pump(self.answered(stream_id))
        if self.stream(stream_id)['status'] != 200:
            return None
        self.conn.send_data(stream_id, ws_frame(0x1, b'alive'))
        self.flush()
        s = self.stream(stream_id)
        self.pump(lambda: len(s['data']) >= 7)
        data = s['data']
        return data[2:7].decode() if len(data) >= 7 and data[0] == 0x81 else None

    def result(self, **extra):
        streams = {str(k): {'status': v['status'], 'reset': v['reset'], 'ended': v['ended'], 'data': v['data'].hex()} for k, v in self.streams.items()}
        return {'case': CASE, 'streams': streams, 'goaway': self.goaway, **extra}


def extended_connect(scheme='http', protocol='websocket', path='/'):
    fields = [(':method', 'CONNECT')]
    if protocol is not None:
        fields.append((':protocol', protocol))
    return fields + [(':scheme', scheme), (':path', path), (':authority', '127.0.0.1:%d' % PORT), ('sec-websocket-version', '13')]


def serve_without_connect_protocol():
    """An h2c server whose SETTINGS lack ENABLE_CONNECT_PROTOCOL: prints its port, then what one client sent."""
    listener = socket.create_server(('127.0.0.1', 0))
    print(json.dumps({'port': listener.getsockname()[1]}), flush=True)
    listener.settimeout(DEADLINE * 2)
    sock, _ = listener.accept()
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False, header_encoding='utf-8'))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    requests = []
    sock.settimeout(DEADLINE * 2)
    while True:
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ConnectionError):
            break
        if not chunk:
            break
        try:
            events = conn.receive_data(chunk)
        except h2.exceptions.ProtocolError:
            break
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                requests.append(dict(event.headers))
        sock.sendall(conn.data_to_send())
    print(json.dumps({'requests': requests}), flush=True)


def main():
    if CASE == 'serve-without-connect-protocol':
        serve_without_connect_protocol()
        return
    peer = Peer()
    peer.conn.initiate_connection()
    if CASE == 'connect-before-settings':
        # RFC 8441 §3: a client must not send :protocol before the server's SETTINGS_ENABLE_CONNECT_PROTOCOL. This one
        # sends it in its first flight, with the preface, before reading anything.
        peer.request(1, extended_connect())
        peer.pump(peer.answered(1))
        peer.pump(lambda: peer.settings_seen)
        print(json.dumps(peer.result(after=peer.echo_works(3))))
        return
    peer.flush()
    peer.pump(lambda: peer.settings_seen)
    enabled = peer.conn.remote_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)
    if CASE == 'missing-protocol':
        # A CONNECT with :scheme and :path but no :protocol: malformed (RFC 9113 §8.5, RFC 8441 §4).
        peer.request(1, extended_connect(protocol=None))
        peer.pump(peer.answered(1))
    elif CASE == 'wrong-scheme':
        peer.request(1, extended_connect(scheme='ftp'))
        peer.pump(peer.answered(1))
    elif CASE == 'data-after-end-stream':
        peer.request(1, extended_connect())
        peer.pump(peer.answered(1))
        # A message and END_STREAM (our half closed), then a DATA frame on the half-closed stream (RFC 9113 §5.1).
        # Both in one write, so that the server reads the late frame while the stream is half-closed (remote), not
        # after its own answer closed it altogether (a closed stream's frames may be ignored, RFC 9113 §5.1).
        peer.conn.send_data(1, ws_frame(0x1, b'hi'), end_stream=True)
        late = DataFrame(1)
        late.data = ws_frame(0x1, b'late')
        peer.sock.sendall(peer.conn.data_to_send() + late.serialize())
        s = peer.stream(1)
        peer.pump(lambda: s['reset'] is not None or peer.goaway is not None)
    elif CASE == 'reset-mid-message':
        peer.request(1, extended_connect())
        peer.pump(peer.answered(1))
        # The header of a 1000-byte text frame and 10 bytes of it, then RST_STREAM CANCEL.
        peer.conn.send_data(1, ws_frame(0x1, b'0123456789', length=1000))
        peer.conn.reset_stream(1, error_code=8)
        peer.flush()
    else:
        raise SystemExit('unknown case ' + CASE)
    print(json.dumps(peer.result(enabled=enabled, after=peer.echo_works(3))))


main()
