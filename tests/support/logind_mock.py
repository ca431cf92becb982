'''A systemd-logind stand-in for the agent's tests (python3-dbusmock template).

It extends dbusmock's logind template with what the agent's session source uses: sessions
added and removed with logind's SessionNew/SessionRemoved signals, a session's Class, Type,
Remote, Name and Timestamp, LockedHint changes with PropertiesChanged, PrepareForShutdown, and
an Inhibit whose fd the test can watch (InhibitorsHeld counts the fds still open).
'''
import os

import dbus
from dbusmock import MOCK_IFACE, mockobject
from dbusmock.templates import logind as base

BUS_NAME = base.BUS_NAME
MAIN_OBJ = base.MAIN_OBJ
MAIN_IFACE = base.MAIN_IFACE
SYSTEM_BUS = True
SESSION_IFACE = 'org.freedesktop.login1.Session'

# The methods of the base template, except Inhibit (replaced below).
ListSessions = base.ListSessions
ListUsers = base.ListUsers
AddSeat = base.AddSeat
AddUser = base.AddUser


def load(mock, parameters):
    base.load(mock, parameters)
    mockobject.held_inhibitors = []


@dbus.service.method(MAIN_IFACE, in_signature='ssss', out_signature='h')
def Inhibit(self, what, who, why, mode):
    '''Returns the write end of a pipe; the inhibitor is held while it is open anywhere.'''
    fd_r, fd_w = os.pipe()
    mockobject.held_inhibitors.append((fd_r, what, who, why, mode))
    self.log(f'Inhibit {what} {who} {mode}')
    sent = dbus.types.UnixFd(fd_w)  # holds its own duplicate of the fd
    os.close(fd_w)
    return sent


@dbus.service.method(MOCK_IFACE, in_signature='', out_signature='u')
def InhibitorsHeld(_self):
    '''How many inhibitors are still held: a read end whose write end is open everywhere.'''
    import select
    held = 0
    for entry in list(mockobject.held_inhibitors):
        poller = select.poll()
        poller.register(entry[0], select.POLLIN)
        if poller.poll(0):
            os.close(entry[0])
            mockobject.held_inhibitors.remove(entry)
        else:
            held += 1
    return dbus.UInt32(held)


@dbus.service.method(MOCK_IFACE, in_signature='susssbtb', out_signature='s')
def NewSession(self, session_id, uid, name, session_class, session_type, remote, timestamp,
               announce):
    '''Adds a session with these properties; emits SessionNew when `announce`.'''
    path = base.AddSession(self, session_id, 'seat0', uid, name, True)
    mockobject.objects[path].UpdateProperties(SESSION_IFACE, {
        'Class': session_class,
        'Type': session_type,
        'Remote': dbus.Boolean(remote),
        'Timestamp': dbus.UInt64(timestamp),
    })
    if announce:
        self.EmitSignal(MAIN_IFACE, 'SessionNew', 'so', [session_id, dbus.ObjectPath(path)])
    return path


@dbus.service.method(MOCK_IFACE, in_signature='sb', out_signature='')
def SetLocked(_self, session_id, locked):
    '''Sets a session's LockedHint as a locker does (PropertiesChanged follows).'''
    path = f'/org/freedesktop/login1/session/{session_id}'
    mockobject.objects[path].UpdateProperties(SESSION_IFACE, {'LockedHint': dbus.Boolean(locked)})


@dbus.service.method(MOCK_IFACE, in_signature='s', out_signature='')
def EndSession(self, session_id):
    '''Removes a session and emits SessionRemoved.'''
    path = f'/org/freedesktop/login1/session/{session_id}'
    self.RemoveObject(path)
    self.EmitSignal(MAIN_IFACE, 'SessionRemoved', 'so', [session_id, dbus.ObjectPath(path)])


@dbus.service.method(MOCK_IFACE, in_signature='b', out_signature='')
def Shutdown(self, start):
    '''Emits PrepareForShutdown(start).'''
    self.EmitSignal(MAIN_IFACE, 'PrepareForShutdown', 'b', [dbus.Boolean(start)])
