# -*- coding: utf-8 -*-
# Copyright: KeyBuzz infrastructure team
# Apache License 2.0 (see the collection's galaxy.yml)
"""Which kbv3-modules binary runs on a machine, from what uname says about it.

The six keybuzz.infra modules are one Go binary per platform, shipped as the private modules
keybuzz.infra.__platforms.<goos>_<goarch>; the action plugin keybuzz.infra.kbv3_platform picks
one with binary_module(). Standard library only: the tests load this file with a bare python3.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# The platforms `make collection` builds, in Go's GOOS_GOARCH spelling.
PLATFORMS = ('linux_amd64', 'linux_arm64', 'darwin_arm64', 'darwin_amd64')

# Where the binaries live, as a module subdirectory of the collection: a name ansible-doc -l
# skips (it skips entries starting with "__"), since a binary has no text docs to list.
PLATFORM_SUBDIR = '__platforms'

# uname -s and uname -m (os.uname()) spellings, lower-cased, to Go's.
_SYSTEMS = {'linux': 'linux', 'darwin': 'darwin'}
# (macOS says arm64, Linux aarch64; amd64 is what BSD-style unames say for x86_64.)
_MACHINES = {'x86_64': 'amd64', 'amd64': 'amd64', 'aarch64': 'arm64', 'arm64': 'arm64'}

# Test-only overrides, read from the controller's environment (docs/ARCHITECTURE.md): the uname
# the selection sees ("Linux aarch64"), and a program the chosen binary runs under
# (qemu-aarch64-static), for a machine without binfmt_misc.
TEST_UNAME_ENV = 'KBV3_TEST_UNAME'
TEST_EXEC_ENV = 'KBV3_TEST_EXEC'


class UnsupportedPlatform(ValueError):
    """The machine is not one the collection ships a binary for."""


def platform_name(system, machine):
    """The GOOS_GOARCH name of the binary for a machine whose uname -s and -m are given."""
    goos = _SYSTEMS.get((system or '').strip().lower())
    goarch = _MACHINES.get((machine or '').strip().lower())
    if goos is None or goarch is None:
        raise UnsupportedPlatform(
            'keybuzz.infra has no module binary for %s/%s; it ships %s'
            % (system, machine, ', '.join(p.replace('_', '/') for p in PLATFORMS)))
    return '%s_%s' % (goos, goarch)


def binary_module(system, machine, collection='keybuzz.infra'):
    """The module name (FQCN) of the binary for that machine."""
    return '%s.%s.%s' % (collection, PLATFORM_SUBDIR, platform_name(system, machine))


def parse_uname(text):
    """(system, machine) from the output of `uname -s -m` (or the test override)."""
    fields = (text or '').split()
    if len(fields) != 2:
        raise UnsupportedPlatform('cannot tell the platform from uname output %r' % (text,))
    return fields[0], fields[1]


def test_overrides(environ):
    """The test-only (uname, exec) overrides, each None when unset."""
    uname = environ.get(TEST_UNAME_ENV) or None
    exe = environ.get(TEST_EXEC_ENV) or None
    return (parse_uname(uname) if uname else None), exe
