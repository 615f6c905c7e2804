# shellcheck shell=bash
# A private apt for one Debian suite (bookworm, trixie or sid), sourced by the fetch scripts:
# our own sources, lists and cache under a directory of .cache/, so nothing of the system's apt
# sources, lists or dpkg state is touched. After `private_apt <suite> <dir> <errfile> [security]`,
# apt_get and apt_cache run against that suite's freshly updated, signature-checked lists
# (with `security`, the suite's security updates too, where the suite has them: not sid).
# The caller defines fail().

# Same mirror as the system's /etc/apt/sources.list.d/debian.sources.
PRIVATE_APT_MIRROR="http://deb.debian.org/debian"
# bookworm's debian-archive-keyring (2023.3+deb12u2 here) already holds the 12/bookworm and
# 13/trixie archive signing keys, and trixie's and sid's InRelease are signed by both, so apt
# verifies every suite against the system keyring; nothing is fetched or trusted unverified
# (no [trusted=yes], no --allow-unauthenticated). If the archive moves to a key this keyring
# lacks, apt-get update fails with NO_PUBKEY: upgrade debian-archive-keyring from bookworm
# (a signed stable update) rather than weakening this.
PRIVATE_APT_KEYRING="/usr/share/keyrings/debian-archive-keyring.gpg"

private_apt() { # <suite> <apt dir> <file collecting apt's stderr> [security]
  local suite="$1" aptdir="$2" security="${4:-}"
  PRIVATE_APT_DIR="$aptdir"
  PRIVATE_APT_ERR="$3"
  command -v apt-get >/dev/null || fail "apt-get not found (a Debian system is needed)"
  command -v dpkg-deb >/dev/null || fail "dpkg-deb not found (a Debian system is needed)"
  [ -r "$PRIVATE_APT_KEYRING" ] || fail "$PRIVATE_APT_KEYRING missing (apt-get install debian-archive-keyring)"
  mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
  : >"$PRIVATE_APT_ERR"
  cat >"$aptdir/debian.sources" <<EOF
Types: deb
URIs: $PRIVATE_APT_MIRROR
Suites: $suite
Components: main
Signed-By: $PRIVATE_APT_KEYRING
EOF
  if [ "$security" = security ] && [ "$suite" != sid ]; then
    cat >>"$aptdir/debian.sources" <<EOF

Types: deb
URIs: $PRIVATE_APT_MIRROR-security
Suites: $suite-security
Components: main
Signed-By: $PRIVATE_APT_KEYRING
EOF
  fi
  # Our sources, lists and cache; an empty dpkg status so that the host's installed versions
  # never win over the suite's; no host pins, no foreign architectures; and none of the
  # system's post-update hooks (appstream, packagekit), which would act on the system's state.
  # Downloads run as root: the unprivileged _apt cannot write into the cache (apt would fall
  # back to root anyway, with a warning); the .debs are still checked against the signed lists.
  # The system's apt.conf.d is still read, for its proxy and Check-Valid-Until settings.
  # By hand: apt-cache -c <dir>/apt.conf policy <package>
  cat >"$aptdir/apt.conf" <<EOF
Dir::Etc::SourceList "$aptdir/debian.sources";
Dir::Etc::SourceParts "/dev/null";
Dir::Etc::Preferences "/dev/null";
Dir::Etc::PreferencesParts "/dev/null";
Dir::State::Lists "$aptdir/lists";
Dir::State::status "/dev/null";
Dir::Cache "$aptdir/cache";
Dir::Cache::pkgcache "pkgcache.bin";
Dir::Cache::srcpkgcache "srcpkgcache.bin";
APT::Architecture "amd64";
#clear APT::Architectures;
APT::Architectures { "amd64"; };
#clear APT::Update::Post-Invoke-Success;
#clear APT::Update::Post-Invoke;
#clear DPkg::Post-Invoke;
APT::Sandbox::User "root";
EOF
  # The suite moves (point releases, sid daily): refresh its lists on every fetch.
  apt_get update >/dev/null 2>>"$PRIVATE_APT_ERR" ||
    fail "apt-get update of $suite failed: $(grep -m1 -E '^(E|W):' "$PRIVATE_APT_ERR" || echo "see $PRIVATE_APT_ERR")"
  if grep -q -E '^(E|W):.*(NO_PUBKEY|not signed|EXPKEYSIG|BADSIG)' "$PRIVATE_APT_ERR"; then
    fail "$suite: signature not verified: $(grep -m1 -E 'NO_PUBKEY|not signed|EXPKEYSIG|BADSIG' "$PRIVATE_APT_ERR")"
  fi
}

apt_get() { apt-get -q -c "$PRIVATE_APT_DIR/apt.conf" "$@"; }
apt_cache() { apt-cache -c "$PRIVATE_APT_DIR/apt.conf" "$@"; }
