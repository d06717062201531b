"""The tutorial's backup function, rewritten for the benchmarks (it is the baseline, not product code).

Same calls and logic as the tutorial's Python 3 function: one CreateBackup named
`<table>-<YYYYmmddHHMMSS>`, one ListBackups call (a single page, every backup type), then a
DeleteBackup for every backup beyond the newest MAX_BACKUPS by creation time, one after another.
"""

from datetime import datetime

import boto3

MAX_BACKUPS = 3

client = boto3.client("dynamodb")


def lambda_handler(event, context):
    if "TableName" not in event:
        raise ValueError("No table name specified.")
    table = event["TableName"]

    name = f"{table}-{datetime.now().strftime('%Y%m%d%H%M%S')}"
    created = client.create_backup(TableName=table, BackupName=name)
    print("Created backup", created["BackupDetails"]["BackupName"])

    summaries = client.list_backups(TableName=table)["BackupSummaries"]
    print("Total backup count:", len(summaries))
    if len(summaries) <= MAX_BACKUPS:
        return {"deleted": 0}

    newest_first = sorted(summaries, key=lambda b: b["BackupCreationDateTime"], reverse=True)
    for backup in newest_first[MAX_BACKUPS:]:
        gone = client.delete_backup(BackupArn=backup["BackupArn"])
        details = gone["BackupDescription"]["BackupDetails"]
        print("Deleted", details["BackupName"], details["BackupStatus"])
    return {"deleted": len(newest_first) - MAX_BACKUPS}
