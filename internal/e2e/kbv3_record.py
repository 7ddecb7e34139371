# Callback plugin of kbv3's end-to-end harness (internal/e2e): it appends one JSON line per event
# to the file named by $KBV3_RECORD, so Go tests read every task's module result exactly while
# the default callback still prints what a person sees. Not part of the collection.
from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: kbv3_record
type: aggregate
short_description: Record task results as JSON lines for kbv3's end-to-end tests
description:
  - Appends task starts, task results (loop items included) and the play recap to $KBV3_RECORD.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "kbv3_record"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        path = os.environ.get("KBV3_RECORD")
        self._out = open(path, "a", encoding="utf-8") if path else None

    def _write(self, event, **fields):
        if self._out is None:
            return
        fields["event"] = event
        fields["time"] = time.time()
        self._out.write(json.dumps(fields, default=str) + "\n")
        self._out.flush()

    def _result(self, event, status, result):
        self._write(event, status=status, task=result._task.get_name(),
                    host=result._host.get_name(), result=result._result)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._write("task_start", task=task.get_name())

    def v2_runner_on_ok(self, result):
        self._result("result", "changed" if result._result.get("changed") else "ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result("result", "ignored" if ignore_errors else "failed", result)

    def v2_runner_on_skipped(self, result):
        self._result("result", "skipped", result)

    def v2_runner_on_unreachable(self, result):
        self._result("result", "unreachable", result)

    def v2_runner_item_on_ok(self, result):
        self._result("item", "changed" if result._result.get("changed") else "ok", result)

    def v2_runner_item_on_failed(self, result):
        self._result("item", "failed", result)

    def v2_runner_item_on_skipped(self, result):
        self._result("item", "skipped", result)

    def v2_playbook_on_stats(self, stats):
        hosts = {h: stats.summarize(h) for h in sorted(stats.processed)}
        self._write("stats", hosts=hosts)
