#!/usr/bin/env bash
# Install the OS packages ecorest needs when they are missing (Debian/Ubuntu):
#   PostgreSQL >= 15 server, PostGIS 3 for that server, PL/Python 3 for that server, numpy for the
#   server's Python, python3-venv and a CJK font for the Chinese report (fonts-wqy-microhei);
#   and, when the distribution has them, numba and scipy for the server's Python (python3-numba:
#   the NDVI trend kernel's compiled pass; python3-scipy: scipy.ndimage.label in the patch
#   kernels). Without them everything works: those kernels run their numpy paths (same
#   results, slower), and this script says so in one line each.
# PL/Python and PostGIS are installed at the version matching the installed server: an unpinned
# postgresql-plpython3-NN can pull a newer server package under a running cluster.
# Does nothing (and prints one line) when everything is present. Never run by itself as root
# without need: when not root it uses sudo, or prints the exact command to run.
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }

if [ "${ECOREST_SKIP_OS_SETUP:-0}" = "1" ]; then
  log "ECOREST_SKIP_OS_SETUP=1: not checking OS packages"
  exit 0
fi

pg_major() {
  # highest installed server major version >= 15 (empty when none)
  local d best=""
  for d in /usr/lib/postgresql/*/bin/postgres; do
    [ -x "$d" ] || continue
    local v=${d#/usr/lib/postgresql/}; v=${v%%/*}
    if [ "$v" -ge 15 ] 2>/dev/null && { [ -z "$best" ] || [ "$v" -gt "$best" ]; }; then best=$v; fi
  done
  echo "$best"
}

have_cjk_font() {
  [ -n "${ECOREST_CJK_FONT:-}" ] && [ -f "$ECOREST_CJK_FONT" ] && return 0
  [ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || \
    [ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ]
}

have_numba() {
  /usr/bin/python3 -c 'import numba' 2>/dev/null
}

numba_candidate() {
  # the distribution's python3-numba version, empty when it has none
  apt-cache policy python3-numba 2>/dev/null | awk '/Candidate:/ && $2 != "(none)" {print $2}'
}

have_scipy() {
  /usr/bin/python3 -c 'from scipy import ndimage' 2>/dev/null
}

scipy_candidate() {
  # the distribution's python3-scipy version, empty when it has none
  apt-cache policy python3-scipy 2>/dev/null | awk '/Candidate:/ && $2 != "(none)" {print $2}'
}

NO_NUMBA="python3-numba is not installed: the NDVI trend kernel runs its numpy path (same results, about 4x slower)"
NO_SCIPY="python3-scipy is not installed: the patch kernels label with numpy (same results, slower)"

have_required() {
  local m=$1
  [ -n "$m" ] || return 1
  [ -f "/usr/share/postgresql/$m/extension/postgis.control" ] || return 1
  [ -f "/usr/share/postgresql/$m/extension/postgis_raster.control" ] || return 1
  [ -f "/usr/share/postgresql/$m/extension/plpython3u.control" ] || return 1
  /usr/bin/python3 -c 'import numpy' 2>/dev/null || return 1
  python3 -c 'import venv, ensurepip' 2>/dev/null || return 1
  have_cjk_font || return 1
  return 0
}

major=$(pg_major)
if have_required "$major" && have_numba && have_scipy; then
  log "PostgreSQL $major, PostGIS, PL/Python, numpy, numba, scipy and a CJK font are installed"
  exit 0
fi
if have_required "$major"; then
  # only numba or scipy is missing: optional (tried below when apt-get and root or sudo are
  # at hand)
  if ! command -v apt-get >/dev/null 2>&1; then
    have_numba || log "$NO_NUMBA"
    have_scipy || log "$NO_SCIPY"
    exit 0
  fi
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    have_numba || log "$NO_NUMBA; to install it, as root: apt-get install -y python3-numba"
    have_scipy || log "$NO_SCIPY; to install it, as root: apt-get install -y python3-scipy"
    exit 0
  fi
fi

if ! command -v apt-get >/dev/null 2>&1; then
  log "PostgreSQL >= 15 with PostGIS 3, postgis_raster and plpython3u (with numpy) are required."
  log "This system has no apt-get: install them with your package manager, or set"
  log "ECOREST_DATABASE_URL to an existing server and ECOREST_SKIP_OS_SETUP=1."
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    log "missing OS packages and no sudo; run as root:"
    log "  apt-get update && apt-get install -y postgresql postgresql-15-postgis-3 postgresql-plpython3-15 python3-numpy python3-numba python3-scipy python3-venv fonts-wqy-microhei"
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
apt_install() { $SUDO apt-get install -y --no-install-recommends "$@"; }

log "installing missing OS packages (apt-get)"
$SUDO apt-get update -qq

if [ -z "$major" ]; then
  apt_install postgresql postgresql-contrib
  major=$(pg_major)
  if [ -z "$major" ]; then
    log "the distribution's default PostgreSQL is older than 15; install postgresql-15 from apt.postgresql.org"
    exit 1
  fi
fi

server_pkg="postgresql-$major"
server_ver=$(dpkg-query -W -f='${Version}' "$server_pkg" 2>/dev/null || true)
pkgs=("postgresql-$major-postgis-3" "python3-numpy" "python3-venv")
have_cjk_font || pkgs+=("fonts-wqy-microhei")
plpy="postgresql-plpython3-$major"
if [ ! -f "/usr/share/postgresql/$major/extension/plpython3u.control" ]; then
  if [ -n "$server_ver" ] && apt-cache madison "$plpy" 2>/dev/null | awk -F'|' '{gsub(/ /,"",$2); print $2}' | grep -qx "$server_ver"; then
    pkgs+=("$plpy=$server_ver")
  else
    # the matching build is gone from the archive: upgrade server and PL/Python together
    cand=$(apt-cache policy "$plpy" | awk '/Candidate:/ {print $2}')
    log "no $plpy at the server's version $server_ver; installing $server_pkg and $plpy $cand together"
    pkgs+=("$server_pkg=$cand" "$plpy=$cand")
  fi
fi
have_required "$major" || apt_install "${pkgs[@]}"
# numba on its own: a distribution without it (or a failed install) leaves the numpy path
if ! have_numba; then
  if [ -n "$(numba_candidate)" ]; then
    apt_install python3-numba || true
  fi
  have_numba || log "$NO_NUMBA"
fi
# scipy likewise: without it the patch kernels label with numpy
if ! have_scipy; then
  if [ -n "$(scipy_candidate)" ]; then
    apt_install python3-scipy || true
  fi
  have_scipy || log "$NO_SCIPY"
fi

if ! have_required "$major"; then
  log "setup finished but something is still missing under /usr/share/postgresql/$major/extension"
  exit 1
fi
extras=""
have_numba && extras="$extras, numba"
have_scipy && extras="$extras, scipy"
log "installed: PostgreSQL $major with PostGIS, postgis_raster, plpython3u, numpy$extras"
