# -*- coding: utf-8 -*-
# Copyright: KeyBuzz infrastructure team
# Apache License 2.0 (see the collection's galaxy.yml)
"""Runs a keybuzz.infra module with the Go binary built for the machine it runs on.

meta/runtime.yml routes the six modules here (plugin_routing: action_plugin). The module files
in plugins/modules are text stubs that only carry the name (documentation is in the sidecar
YAML); the code is one multi-call binary per platform, the private modules
keybuzz.infra.__platforms.<goos>_<goarch>. This plugin picks one from the target's uname (the
controller's own for a local connection, which `delegate_to: localhost` gives) and hands it to
ActionBase._execute_module, which runs it as Ansible runs any binary module: args file, check
mode, diff, no_log, async and environment all go through Ansible's own code. The binary learns
which of the six modules to be from KBV3_MODULE, since Ansible names the file it runs and
_ansible_module_name after the binary.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import dataclasses
import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.keybuzz.infra.plugins.module_utils.kbv3_platform import (
    UnsupportedPlatform,
    binary_module,
    parse_uname,
    test_overrides,
)

MODULE_ENV = 'KBV3_MODULE'


class ActionModule(ActionBase):

    def run(self, tmp=None, task_vars=None):
        # The binaries honour _ansible_check_mode and run under async_wrapper; ActionBase.__init__
        # resets these, so they are set here, as the normal action plugin does.
        self._supports_check_mode = True
        self._supports_async = True
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        if result.get('skipped'):
            return result

        wrap_async = self._task.async_val and not self._connection.has_native_async
        try:
            self._binary, self._exec = self._select()
            module = (self._task.resolved_action or self._task.action).rpartition('.')[2]
            saved = self._task.environment
            envs = list(saved) if isinstance(saved, list) else ([saved] if saved else [])
            self._task.environment = envs + [{MODULE_ENV: module}]
            try:
                result = merge_hash(result, self._execute_module(
                    module_name=self._binary, task_vars=task_vars, wrap_async=wrap_async))
            finally:
                self._task.environment = saved
        finally:
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _select(self):
        """The binary's module name for the target, and the test-only program to run it under."""
        uname, exe = test_overrides(os.environ)
        try:
            if uname is None:
                uname = self._target_uname()
            name = binary_module(*uname)
        except UnsupportedPlatform as e:
            raise AnsibleActionFail(str(e))
        found = self._shared_loader_obj.module_loader.find_plugin_with_context(name)
        if not found.resolved:
            raise AnsibleActionFail(
                '%s: this copy of keybuzz.infra has no module binary for %s (%s is missing); '
                'install the collection from its Galaxy tarball, or run `make build` in the checkout '
                'on this machine' % (self._task.action, '/'.join(uname), name))
        return name, exe

    def _target_uname(self):
        # The binary runs where the connection runs commands: the controller for the local
        # connection, whose uname needs no command; elsewhere, ask the target.
        if self._connection.transport == 'local':
            u = os.uname()
            return u.sysname, u.machine
        res = self._low_level_execute_command('uname -s -m', sudoable=False)
        if res.get('rc') != 0:
            raise AnsibleActionFail('%s: cannot tell the target platform: uname -s -m failed: %s'
                                    % (self._task.action, (res.get('stderr') or '').strip()))
        return parse_uname(res.get('stdout'))

    def _configure_module(self, module_name, module_args, task_vars):
        # Test-only (KBV3_TEST_EXEC): run the binary under an emulator, the way Ansible runs a
        # script under its interpreter (a shebang), on a machine without binfmt_misc.
        configured = super(ActionModule, self)._configure_module(module_name, module_args, task_vars)
        if not getattr(self, '_exec', None) or module_name != getattr(self, '_binary', None):
            return configured
        shebang = '#!' + self._exec
        if len(configured) == 4:  # ansible-core < 2.19: (style, shebang, data, path)
            style, _, data, path = configured
            return style, shebang, data, path
        bits, path = configured  # 2.19: (_BuiltModule, path)
        return dataclasses.replace(bits, shebang=shebang), path
