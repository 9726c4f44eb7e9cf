"""Child processes die with their parent.

``serve`` starts gunicorn and ``qcluster``; gunicorn forks web workers; django-q2's
cluster forks a sentinel, which forks workers, a monitor and a pusher. When any parent
is SIGKILLed (or crashes), Linux re-parents its children to init and they run on: web
workers keep the port, cluster workers keep running the loop beside the next cluster.
``prctl(PR_SET_PDEATHSIG)`` asks the kernel to signal a child when its parent dies.

Two details of PDEATHSIG shape the helpers below: it is cleared in every fork (so each
child sets it for itself, here through an at-fork hook or gunicorn's ``post_fork``), and
a parent that died before the child set it never triggers it (so the child checks
``getppid()`` afterwards and leaves at once if its parent is already gone).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1

_libc: ctypes.CDLL | None = None
# Set in the parent just before each fork (the child inherits the value).
_fork_parent_pid = 0
# The process whose direct children lead their own process group, 0 for none.
_group_parent_pid = 0
_at_fork_registered = False


def die_with_parent(*, signum: int, parent_pid: int) -> None:
    """In a freshly forked child: receive ``signum`` when the parent ``parent_pid`` dies.

    Safe to call between fork and exec (``Popen(preexec_fn=...)``): no locks, no imports.
    A no-op off Linux, where PDEATHSIG does not exist.
    """
    global _libc
    if not sys.platform.startswith("linux"):
        return
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
        os._exit(1)
    if os.getppid() != parent_pid:
        # The parent died between fork and prctl: nobody will signal us, and nobody
        # will stop us either.
        os._exit(1)


def _before_fork() -> None:
    global _fork_parent_pid
    _fork_parent_pid = os.getpid()


def _after_fork_in_child() -> None:
    parent = _fork_parent_pid
    # SIGKILL: the parent that would have stopped this child in order is gone.
    die_with_parent(signum=signal.SIGKILL, parent_pid=parent)
    if parent == _group_parent_pid:
        os.setpgid(0, 0)


def forked_children_die_with_parent(*, own_process_group: bool = False) -> None:
    """Every process forked from now on, here and below, is SIGKILLed when its parent dies.

    With ``own_process_group``, this process's direct children lead a process group of
    their own (their children join it), so a signal sent to this process's group (Ctrl-C
    in a terminal, ``kill -TERM -PGID``) reaches only this process, which stops them in
    order instead of having them killed mid-way through a shared queue or lock.
    Registered once per process; later calls only change ``own_process_group``.
    """
    global _at_fork_registered, _group_parent_pid
    _group_parent_pid = os.getpid() if own_process_group else 0
    if not _at_fork_registered:
        os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
        _at_fork_registered = True
