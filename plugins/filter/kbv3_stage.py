# -*- coding: utf-8 -*-
# Copyright: KeyBuzz infrastructure team
# Apache License 2.0 (see the collection's galaxy.yml)
"""What a stage of the volume reset left undone, read from the registered result of its loop.

The reset playbook runs each stage as one loop task, a batch per item, registered and never
failed by its module (failed_when: false): a failed batch's whole result would otherwise be
printed before its message. These filters read those results once for every stage:

- kbv3_failed_hosts: the hosts the later stages skip, those already failed plus this stage's;
- kbv3_stage_failures: one short line per failed batch, its module's message, to print;
- kbv3_host_lines: the end of the run, host by host: the line each host prints, whether this
  run changed one of its volumes, and whether the host failed (with the reason), computed once
  so that the task printing them costs each host a dictionary lookup, not a pass over every
  stage's results;
- kbv3_created_ids: a batch's plan entries, each given the id of the volume the create stage
  reported created for its host, so that the attach stage attaches by id without a read.

A batch failed when its module failed a volume (an item failed or refused, other than a check
mode prediction, "would be refused: ...", which the module only warns about) or did not answer
with its volumes at all (a timeout, a crash, options refused). Its hosts are then the module's
failed_hosts, or, without an answer, every host of the batch's entries.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from jinja2.runtime import Undefined

# Item actions of a volume the module did not do (internal/volumes: ActionFailed, ActionRefused).
_NOT_DONE = ('failed', 'refused')
# How a check-mode refusal that an earlier task may lift starts; the module does not fail it.
_PREDICTED = 'would be refused: '


def _results(stage):
    # A stage that has not run is nothing yet (ansible-lint templates tasks without their vars).
    if stage is None or isinstance(stage, Undefined):
        return []
    if not isinstance(stage, dict):
        raise AnsibleFilterError('kbv3 stage filters take a registered loop result, not %s' % type(stage).__name__)
    return stage.get('results') or []


def _failed(result):
    if result.get('skipped'):
        return False
    if result.get('failed') or 'volumes' not in result:
        return True
    return any(v.get('action') in _NOT_DONE and not str(v.get('error', '')).startswith(_PREDICTED)
               for v in result.get('volumes') or [])


def failed_hosts(failed, stage, host_key):
    """failed plus the hosts stage failed, sorted and once each. host_key names the host in an
    entry of a batch (hostname for plan entries, server for old volumes, where "" is none)."""
    hosts = set(failed or [])
    for result in _results(stage):
        if 'failed_hosts' in result:
            hosts.update(result['failed_hosts'] or [])
        elif not result.get('skipped'):
            hosts.update(e.get(host_key) for e in result.get('item') or [] if e.get(host_key))
    return sorted(hosts)


def stage_failures(stage, name):
    """One line per failed batch of stage: "<name>, batch <i>/<n>: <the module's message>"."""
    results = _results(stage)
    lines = []
    for i, result in enumerate(results, 1):
        if _failed(result):
            msg = result.get('msg') or 'failed without a message'
            lines.append('%s, batch %d/%d: %s' % (name, i, len(results), msg))
    return lines


# Item actions that change nothing (internal/volumes: the outcomes that are not a change).
_UNCHANGED = ('already_detached', 'already_attached', 'absent', 'exists', 'ok', 'skipped', 'failed', 'refused')


def host_lines(verify, stages, failed, check_mode=False):
    """{host: {msg, changed, failed}} for every plan host the verification has a row for and every
    failed host. stages are the registered results of the stages, in their order; verify is the
    verification's result; failed the hosts the stages failed."""
    if verify is None or isinstance(verify, Undefined):
        return {}  # not verified yet (ansible-lint templates tasks without their vars)
    if not isinstance(verify, dict):
        raise AnsibleFilterError('kbv3_host_lines takes the verification result, not %s' % type(verify).__name__)
    rows = dict((r.get('hostname'), r) for r in verify.get('rows') or [])
    problems = verify.get('host_problems') or {}
    bad = set(failed or []) | set(verify.get('problem_hosts') or [])
    done = {}
    for stage in stages or []:
        for result in _results(stage):
            for v in result.get('volumes') or []:
                if v.get('host'):
                    done.setdefault(v['host'], []).append(v)
    out = {}
    for host in sorted(set(rows) | bad):
        mine = done.get(host, [])
        failing = host in bad and not check_mode
        parts = []
        row = rows.get(host)
        if row:
            parts.append('%s %s GB%s%s; this run: %s%s' % (
                row.get('volume'), row.get('size_gb'),
                (' on ' + row['server']) if row.get('server') else ' (not attached)',
                (', ' + row['linux_device']) if row.get('linux_device') else '',
                ', '.join('%s %s' % (v.get('action'), v.get('volume')) for v in mine) or 'nothing',
                '; FAILED' if host in bad else ''))
        if failing:
            parts.append('%s did not finish%s: %s Run the reset again once the cause is fixed.' % (
                host, ' (its stage failed, its later stages were skipped)' if host in (failed or []) else '',
                ' '.join(problems.get(host) or ['see the stage above'])))
        changed = any(v.get('action') not in _UNCHANGED for v in mine)
        if host in bad:
            status = 'FAILED' if failing else 'would fail'
        elif changed:
            status = 'would change' if check_mode else 'changed'
        else:
            status = 'ok'
        out[host] = {
            'msg': ' -- '.join(parts),
            # The host's row of the table the play prints once: its status, then its volume.
            'line': '%s: %s, %s' % (host, status, parts[0] if row else 'no volume in the plan'),
            'changed': changed,
            'failed': failing,
        }
    return out


def created_ids(entries, stage):
    """entries, each with the id of the volume stage (the create stage's registered result)
    reported created for the entry's hostname (and, when the entry names it, its volume). An
    entry the stage did not create a volume for, or that has an id already, is left as it is."""
    if entries is None or isinstance(entries, Undefined):
        return []  # no batch yet (ansible-lint templates tasks without their vars)
    if not isinstance(entries, list):
        raise AnsibleFilterError('kbv3_created_ids takes a list of plan entries, not %s' % type(entries).__name__)
    made = {}
    for result in _results(stage):
        for v in result.get('volumes') or []:
            if v.get('action') == 'created' and v.get('host') and v.get('id'):
                made[v['host']] = v
    out = []
    for e in entries:
        v = made.get(e.get('hostname'))
        if v is not None and not e.get('id') and e.get('volume', v.get('volume')) == v.get('volume'):
            e = dict(e, id=v['id'])
        out.append(e)
    return out


class FilterModule(object):

    def filters(self):
        return {
            'kbv3_failed_hosts': failed_hosts,
            'kbv3_stage_failures': stage_failures,
            'kbv3_created_ids': created_ids,
            'kbv3_host_lines': host_lines,
        }
