# -*- coding: utf-8 -*-
# Copyright: KeyBuzz infrastructure team
# Apache License 2.0 (see the collection's galaxy.yml)
"""How the volume reset cuts a stage's work into batches (kbv3_batches).

Ansible's batch filter cuts a list every size entries. The delete stage cannot: it runs its
module with all_or_nothing: host, so that a server's old volumes are deleted together or not at
all, and the module can only hold back what its own call has. Two old volumes of one server
cut into two batches would let the second batch delete one while the first refused the other.
So the entries that share a key (the server the review saw them on) go in one batch, the batch
of the first of them; the order stays the list's otherwise (stage 0 lists old volumes by id, the
order the delete batches read them in).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from jinja2.runtime import Undefined


def batches(entries, size, key=None):
    """entries in batches of at most size, in order, keeping the entries that share a non-empty
    entry[key] in one batch: a group that does not fit in the current batch starts the next one,
    and a group larger than size is a batch of its own (its module call still keeps at most
    size operations in flight)."""
    if entries is None or isinstance(entries, Undefined):
        return []  # no work yet (ansible-lint templates tasks without their vars)
    if not isinstance(entries, list):
        raise AnsibleFilterError('kbv3_batches takes a list of entries, not %s' % type(entries).__name__)
    try:
        size = int(size)
    except (TypeError, ValueError):
        raise AnsibleFilterError('kbv3_batches: size must be a whole number, not %r' % (size,))
    if size < 1:
        raise AnsibleFilterError('kbv3_batches: size must be at least 1, not %d' % size)
    groups = []
    where = {}
    for i, e in enumerate(entries):
        if key and not isinstance(e, dict):
            raise AnsibleFilterError('kbv3_batches: entry %d is a %s, not a dictionary with %s' % (i, type(e).__name__, key))
        k = e.get(key) if key else None
        if k:
            if k in where:
                groups[where[k]].append(e)
                continue
            where[k] = len(groups)
        groups.append([e])
    out = []
    for g in groups:
        if out and len(out[-1]) + len(g) <= size:
            out[-1].extend(g)
        else:
            out.append(list(g))
    return out


class FilterModule(object):

    def filters(self):
        return {'kbv3_batches': batches}
