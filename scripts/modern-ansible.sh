#!/usr/bin/env bash
# modern-ansible.sh DIR: Debian trixie's ansible-core (2.19) and ansible (12.x, with hetzner.hcloud
# 5.x) unpacked into DIR, for the tests of kbv3 on today's Ansible (tests/modern_*_test.go).
#
# The system's ansible (bookworm's 2.14) stays untouched: apt runs on a configuration of its own
# (its own sources list for trixie, lists, cache and an empty dpkg status), `apt-get download`
# fetches the two .debs, verified against the system's Debian archive keyring, and `dpkg-deb -x`
# unpacks them into DIR/root. They run on /usr/bin/python3 with bookworm's jinja2, PyYAML,
# cryptography, packaging and resolvelib:
#   PATH=DIR/root/usr/bin:$PATH PYTHONPATH=DIR/root/usr/lib/python3/dist-packages
# DIR/env holds those two lines. A second run with DIR complete does nothing and needs no network.
#
# Signatures: bookworm's debian-archive-keyring (2023.3+deb12u2) already carries the trixie keys,
# and trixie's InRelease is signed by the 12/bookworm and 13/trixie automatic keys and the 13/trixie
# stable key (gpgv --keyring /usr/share/keyrings/debian-archive-keyring.gpg InRelease: three good
# signatures), so apt verifies the index, and through its hashes the .debs, with the system's
# keyring; an unsigned or unverifiable index fails the update below. MODERN_ANSIBLE_MIRROR and
# MODERN_ANSIBLE_KEYRING override the mirror and the keyring.
set -euo pipefail

dir=${1:?usage: modern-ansible.sh DIR}
mirror=${MODERN_ANSIBLE_MIRROR:-http://deb.debian.org/debian}
suite=${MODERN_ANSIBLE_SUITE:-trixie}
keyring=${MODERN_ANSIBLE_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
# The series the tests are written for: a trixie update to another series should fail here, not
# in a test that reads odd output.
want_core='2.19.*'
want_ansible='12.*'
packages=(ansible-core ansible)

root=$dir/root
stamp=$dir/stamp
# The stamp names the suite and this script's recipe, so that a change to either refetches.
recipe="$suite $want_core $want_ansible ${packages[*]}"
if [ -f "$stamp" ] && [ "$(head -n1 "$stamp")" = "$recipe" ] && [ -x "$root/usr/bin/ansible-playbook" ]; then
  exit 0
fi

for cmd in apt-get dpkg-deb /usr/bin/python3; do
  command -v "$cmd" >/dev/null || { echo "modern-ansible: $cmd is missing" >&2; exit 1; }
done
[ -r "$keyring" ] || { echo "modern-ansible: no Debian archive keyring at $keyring (package debian-archive-keyring)" >&2; exit 1; }

apt=$dir/apt
rm -rf "$apt" "$dir/debs" "$root.new"
mkdir -p "$apt/parts" "$apt/preferences.d" "$apt/lists/partial" "$apt/cache/archives/partial" "$dir/debs" "$root.new"

echo "deb [signed-by=$keyring] $mirror $suite main" >"$apt/sources.list"
# Read before the system's configuration (APT_CONFIG comes first), it points apt away from it:
# no /etc/apt/apt.conf.d hooks (appstream, packagekit, docker-clean) and no system sources. apt
# still honours http_proxy from the environment.
cat >"$apt/apt.conf" <<EOF
Dir::Etc::Main "/dev/null";
Dir::Etc::Parts "$apt/parts";
Dir::Etc::SourceList "$apt/sources.list";
Dir::Etc::SourceParts "$apt/parts";
Dir::Etc::Preferences "/dev/null";
Dir::Etc::PreferencesParts "$apt/preferences.d";
Dir::State "$apt";
Dir::State::Lists "$apt/lists";
Dir::State::Status "/dev/null";
Dir::Cache "$apt/cache";
Dir::Cache::Archives "$apt/cache/archives";
Acquire::Languages "none";
Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";
APT::Get::AllowUnauthenticated "false";
Acquire::AllowInsecureRepositories "false";
Acquire::AllowDowngradeToInsecureRepositories "false";
EOF
# As root apt downloads as _apt, which may not reach a checkout under /root.
if [ "$(id -u)" = 0 ]; then echo 'APT::Sandbox::User "root";' >>"$apt/apt.conf"; fi
export APT_CONFIG=$apt/apt.conf

echo "modern-ansible: apt-get update ($suite from $mirror, private lists in $apt)"
# apt-get update exits 0 on some fetch failures; -o APT::Update::Error-Mode=any is not in
# bookworm's apt, so the log is checked for what would make the download unverified.
log=$apt/update.log
apt-get -q update >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
if grep -Eq '^(W|E): ' "$log"; then
  cat "$log" >&2
  echo "modern-ansible: apt-get update reported problems (above); the trixie index must be signed by a key in $keyring" >&2
  exit 1
fi

echo "modern-ansible: apt-get download ${packages[*]}"
(cd "$dir/debs" && apt-get -q download "${packages[@]}")

versions=()
for p in "${packages[@]}"; do
  deb=$(ls "$dir/debs/${p}_"*.deb)
  v=$(dpkg-deb -f "$deb" Version)
  case $p in
    ansible-core) want=$want_core ;;
    ansible) want=$want_ansible ;;
  esac
  # Debian versions may carry an epoch (ansible-core is 2.19.x-N without one today).
  # shellcheck disable=SC2254
  case ${v#*:} in
    $want) ;;
    *) echo "modern-ansible: $suite has $p $v, the tests expect $want" >&2; exit 1 ;;
  esac
  dpkg-deb -x "$deb" "$root.new"
  versions+=("$p=$v")
done

rm -rf "$root"
mv "$root.new" "$root"
rm -rf "$apt/cache" "$apt/lists" "$dir/debs"
cat >"$dir/env" <<EOF
PATH=$root/usr/bin:\$PATH
PYTHONPATH=$root/usr/lib/python3/dist-packages
EOF
PYTHONPATH=$root/usr/lib/python3/dist-packages "$root/usr/bin/ansible" --version | head -n1
printf '%s\n%s\n' "$recipe" "${versions[*]}" >"$stamp"
echo "modern-ansible: ${versions[*]} in $root"
