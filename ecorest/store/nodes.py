"""Local data-node clusters for tests and trying scale-out on one machine.

``ecorest db start --nodes N`` starts N embedded clusters (:class:`EmbeddedCluster`, each with its
own port, passwords and data folder under ``<home>/nodes/nodeK``) on 127.0.0.1 beside the
coordinator's; :mod:`ecorest.etl.nodes` registers them as data nodes.
"""

from __future__ import annotations

import json
from pathlib import Path

from .cluster import EmbeddedCluster


def local_node_homes(home: Path, count: int) -> list[Path]:
    return [Path(home) / "nodes" / f"node{k + 1}" for k in range(count)]


def start_local_nodes(home: Path, count: int) -> list[str]:
    """Start ``count`` data-node clusters on 127.0.0.1 under ``<home>/nodes/nodeK``; returns
    their administrator (superuser) URLs."""
    urls = []
    for node_home in local_node_homes(home, count):
        cluster = EmbeddedCluster(node_home)
        cluster.start()
        urls.append(cluster.url())
    (Path(home) / "nodes" / "nodes.json").write_text(json.dumps({"count": count}, indent=2))
    return urls


def stop_local_nodes(home: Path) -> int:
    """Stop the local data-node clusters of ``home``; returns how many were running."""
    stopped = 0
    for node_home in sorted((Path(home) / "nodes").glob("node*")):
        if node_home.is_dir() and EmbeddedCluster(node_home).stop():
            stopped += 1
    return stopped
