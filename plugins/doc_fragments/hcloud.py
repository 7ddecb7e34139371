# -*- coding: utf-8 -*-
# Options every keybuzz.infra module shares. The modules are Go binaries: this file is
# documentation only, read by ansible-doc; the Go protocol package enforces the same rules.
from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r'''
options:
  api_token:
    description:
      - Hetzner Cloud API token (read and write) of the project.
      - Falls back to the C(HCLOUD_TOKEN) environment variable of the controller.
      - Never printed, logged or returned; C(invocation) shows C(VALUE_SPECIFIED_IN_NO_LOG_PARAMETER).
      - A token the API refuses (C(unauthorized)), or one without the permission a request needs (C(forbidden), e.g. a read-only token),
        fails the call at once with a message naming I(api_token)/C(HCLOUD_TOKEN) and the endpoint.
    type: str
    no_log: true
  api_endpoint:
    description:
      - Base URL of the API, including C(/v1).
      - Falls back to C(HCLOUD_ENDPOINT), then to the real API, also when given empty. Point it at hcloud-sim to rehearse.
      - An endpoint that cannot be reached in a way no retry mends (a name that does not resolve, a refused connection, TLS spoken to
        a plain-HTTP endpoint, a certificate that does not verify) fails the call at once with a message naming the endpoint and
        I(api_endpoint)/C(HCLOUD_ENDPOINT).
    type: str
    default: https://api.hetzner.cloud/v1
  timeout:
    description:
      - Deadline in seconds for the whole call, waits and retries included.
      - When it passes, every volume not done is reported failed with the reason; nothing hangs.
    type: int
    default: 300
  concurrency:
    description:
      - How many volumes of the call are worked on at once.
    type: int
    default: 10
  log_path:
    description:
      - File to which one JSON line per API operation is appended (time, module, volume, id,
        server, action_id, outcome, attempt, error, run_id, check_mode, size_gb and duration_ms where known).
        The token is never written.
      - In check mode every prediction (C(would_detach), C(would_delete), C(would_create), C(would_attach), ...) has its line,
        with C(check_mode=true); attach lines name the target server.
      - Its parent directories are created.
    type: path
  run_id:
    description:
      - Run identifier written on every line of I(log_path), for playbooks that run several modules as one operation.
      - The reset playbook passes the one its stage 0 (M(keybuzz.infra.kbv3_volume_info)) returns.
    type: str
  deadline:
    description:
      - Unix time (seconds) by which the call ends, if earlier than I(timeout) allows.
      - The reset playbook gives every batch of a stage the stage's deadline, so that a stage ends by C(stage_timeout) however many batches it has.
        A call whose deadline has passed fails its volumes at once.
    type: int
  skip_hosts:
    description:
      - Hosts that failed at an earlier stage. The volumes of these hosts (a plan entry's C(hostname), or the C(server) a delete entry was reviewed on)
        are reported C(skipped) without any request, so that one host's failure stays with that host.
    type: list
    elements: str
  observed:
    description:
      - What the reset's stage 0 read (the C(reset.observed) that M(keybuzz.infra.kbv3_volume_info) returns in check mode),
        that is every volume of the project and the plan's servers.
      - In check mode the module predicts from it, without a request, when it holds everything the call needs
        (otherwise it reads as usual); so a C(--check) reset costs stage 0's reads only.
      - Ignored in a real run, which always reads the volumes before it changes them.
      - Written by M(keybuzz.infra.kbv3_volume_info), not by hand.
    type: dict
    suboptions:
      complete: {description: Whether I(volumes) are every volume of the project., type: bool}
      volumes:
        description: The volumes as stage 0 read them.
        type: list
        elements: dict
        suboptions:
          id: {description: Volume ID., type: int}
          name: {description: Volume name., type: str}
          size_gb: {description: Size in GB., type: int}
          location: {description: Location., type: str}
          server: {description: Name of the server it is attached to; empty when detached., type: str}
          server_id: {description: ID of the server it is attached to; 0 when detached., type: int}
          labels: {description: Labels., type: dict}
          protected: {description: Delete protection., type: bool}
          status: {description: Status., type: str}
          format: {description: Filesystem; empty when unformatted., type: str}
          linux_device: {description: Device path on its server., type: str}
      servers:
        description: The servers as stage 0 read them.
        type: list
        elements: dict
        suboptions:
          id: {description: Server ID., type: int}
          name: {description: Server name., type: str}
          location: {description: Location., type: str}
      missing_servers: {description: Server names looked up that do not exist., type: list, elements: str}
notes:
  - Binary module compiled from Go; it runs on the controller (C(delegate_to=localhost) or a play on C(localhost)).
  - Supports check mode with exact predictions and no mutating API request; the modules that change volumes support diff mode.
  - Set the token and endpoint once with C(module_defaults) and the action group C(group/keybuzz.infra.hcloud).
seealso:
  - name: Hetzner Cloud API
    description: Reference of the API these modules call.
    link: https://docs.hetzner.cloud/
'''
