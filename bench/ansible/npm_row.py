"""Upsert one NPM proxy_host row by id (the Ansible side of the benchmark). Prints 'changed' or 'ok'."""
import json
import sqlite3
import sys
import time

db_path, host_id, domain, fwd_host, fwd_port, websockets, block_exploits = sys.argv[1:8]
want = {
    "domain_names": json.dumps([domain]),
    "forward_scheme": "http",
    "forward_host": fwd_host,
    "forward_port": int(fwd_port),
    "allow_websocket_upgrade": int(websockets),
    "block_exploits": int(block_exploits),
    "enabled": 1,
    "is_deleted": 0,
}
db = sqlite3.connect(db_path, timeout=10)
db.row_factory = sqlite3.Row
row = db.execute("SELECT * FROM proxy_host WHERE id = ?", (int(host_id),)).fetchone()
now = time.strftime("%Y-%m-%d %H:%M:%S")
if row is None:
    cols = dict(want, id=int(host_id), created_on=now, modified_on=now, owner_user_id=1, meta=json.dumps({"nginx_online": True, "nginx_err": None}), advanced_config="", locations="[]")
    db.execute(f"INSERT INTO proxy_host ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})", list(cols.values()))
    db.commit()
    print("changed")
elif any(row[k] != v for k, v in want.items()):
    sets = ", ".join(f"{k} = ?" for k in want)
    db.execute(f"UPDATE proxy_host SET {sets}, modified_on = ? WHERE id = ?", [*want.values(), now, int(host_id)])
    db.commit()
    print("changed")
else:
    print("ok")
