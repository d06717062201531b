"""Talking to the moto server the benchmarks run against: clients, its request recorder, tables."""

import base64
import json
import os
import urllib.parse
import urllib.request
from collections import Counter

import boto3

ENDPOINT = os.environ["MOTO_ENDPOINT"]
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def client(service):
    return boto3.client(service, endpoint_url=ENDPOINT, region_name=REGION, **CREDENTIALS)


def resource(service):
    return boto3.resource(service, endpoint_url=ENDPOINT, region_name=REGION, **CREDENTIALS)


def aws_env():
    """Environment for a process that should talk to the same moto with the same identity."""
    return dict(os.environ, AWS_ENDPOINT_URL=ENDPOINT, AWS_REGION=REGION,
                AWS_DEFAULT_REGION=REGION, AWS_ACCESS_KEY_ID="testing",
                AWS_SECRET_ACCESS_KEY="testing")


def _moto_api(method, path):
    request = urllib.request.Request(ENDPOINT + path, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request) as response:
        return response.read().decode()


class Recorder:
    """moto's server-side request recorder: every call any client makes, in order."""

    def __enter__(self):
        _moto_api("POST", "/moto-api/recorder/reset-recording")
        _moto_api("POST", "/moto-api/recorder/start-recording")
        self.calls = []
        return self

    def __exit__(self, *exc):
        _moto_api("POST", "/moto-api/recorder/stop-recording")
        text = _moto_api("GET", "/moto-api/recorder/download-recording")
        decoder, at = json.JSONDecoder(), 0
        while True:
            while at < len(text) and text[at].isspace():
                at += 1
            if at >= len(text):
                break
            entry, at = decoder.raw_decode(text, at)
            self.calls.append(_operation(entry))
        return False

    def by_operation(self):
        return Counter(name for name, _ in self.calls)

    def writes(self):
        return sum(1 for _, mutating in self.calls if mutating)


def _operation(entry):
    """(operation name, whether it writes) for one recorded request."""
    headers = {k.lower(): v for k, v in (entry.get("headers") or {}).items()}
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode(errors="replace")
    target = headers.get("x-amz-target")
    name = target.rsplit(".", 1)[-1] if target else None
    if name is None and "Action=" in body:
        name = urllib.parse.parse_qs(body).get("Action", [None])[0]
    if name:
        return name, not name.startswith(("Describe", "List", "Get", "Head"))
    method = entry.get("method", "GET")
    url = urllib.parse.urlsplit(entry.get("url", ""))
    query = sorted(urllib.parse.parse_qs(url.query, keep_blank_values=True))
    shape = _rest_shape(url.path) + ("?" + "&".join(query) if query else "")
    return f"{method} {shape}", method not in ("GET", "HEAD")


def _rest_shape(path):
    """A REST path with names replaced, so calls group by operation (Lambda, S3)."""
    parts = path.strip("/").split("/")
    if parts and parts[0].startswith("20"):  # Lambda: /2015-03-31/functions/NAME/...
        return "/".join(p if i != 2 else "{name}" for i, p in enumerate(parts))
    return "{bucket}" + ("/{key}" if len(parts) > 1 else "") if parts != [""] else "/"


def create_movies_table(dynamodb, name):
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "year", "KeyType": "HASH"},
                   {"AttributeName": "title", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "year", "AttributeType": "N"},
                              {"AttributeName": "title", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
