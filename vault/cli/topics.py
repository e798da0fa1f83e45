"""``recvault help TOPIC``: the concepts behind the commands, in a few lines each.

Drawn from docs/lifecycle.md, docs/residency.md and docs/keys.md; those pages
hold the details.
"""

from __future__ import annotations

from typing import Annotated

import typer

from vault.cli.app import app
from vault.errors import InvalidInput

TOPICS: dict[str, str] = {
    "retention": """\
Retention: how long records are kept (docs/lifecycle.md)

Every record carries retain_until = last processed + the policy of its
category (default P10Y for every clinical category; 29 February + 10 years
is 28 February). Creating a record, a new version and a service reading the
content are processing and restart the period; metadata reads, audits and
residency checks are not.

A record may be disposed of when retain_until has passed, no legal hold
covers it or its subject, and its subject is not restricted.
  recvault retention plan      what a sweep would do, and why each item is kept
  recvault retention sweep     dispose of what the plan allows
  recvault retention approve   review mode (destruction.review = true): approve items first
See also: recvault help holds, recvault help erasure.""",
    "holds": """\
Legal holds: keep records beyond retention for a case (docs/lifecycle.md)

An admin places a hold on a subject (every record) or on one record, with a
case reference and a reason. While any hold covers a record it is not
disposed of, an erasure request is deferred and a transfer is refused.
Releasing needs a reason and, by default, another principal than the one who
placed it. On S3 stores with Object Lock, holds are mirrored as object legal
holds.
  recvault holds place SUBJECT_ID --case-ref CASE-2026-014 --reason "..."
  recvault holds place RECORD_ID --scope record --case-ref ... --reason ...
  recvault holds release HOLD_ID --reason "case closed"
  recvault holds ls""",
    "erasure": """\
Erasure: crypto-shredding after a waiting period (docs/lifecycle.md)

The DPO requests erasure of a subject. If nothing keeps its records
(retention, a legal hold, a restriction) the destruction of its subject key
is scheduled now and executed after destruction.waiting_period (default
P30D); security can cancel it meanwhile. Otherwise the request is deferred
with every reason and the sweep carries it out once nothing keeps the
records. Destroying the key makes every copy of every object unreadable;
the objects and wrapped data keys are deleted and a signed certificate is
kept. Reads then answer "erased" (HTTP 410).
  recvault erasure request SUBJECT_ID     recvault erasure status SUBJECT_ID
  recvault keys destructions ls | cancel ID | certificate ID
Restriction (recvault restriction set|clear) is what a person who does not
want erasure can ask for: processing refused, disposal blocked.""",
    "residency": """\
Residency: every subject lives in one region (docs/residency.md)

A subject is pinned to a region (JP, PH) at creation: its objects are only in
that region's store and its subject key only in that region's key provider.
Principals may be limited to regions; they see and touch nothing elsewhere.
  recvault residency report    signed proof: store locations, every object and key
                               accounted for in its region and absent elsewhere
  recvault residency transfer SUBJECT_ID --to PH --legal-basis consent \\
      --evidence-ref "consent form 2026-014"
A transfer moves every record and the key, records its legal basis (consent,
adequacy, contractual_safeguards) and evidence, needs a principal with both
admin and compliance, and is refused while a legal hold covers the subject.""",
    "rotation": """\
Rotation: new key versions, no object rewritten (docs/keys.md)

Each subject has its own key in Vault Transit; each record version has its
own data key, wrapped by the subject key. Rotation gives the subject key a
new version, rewraps the wrapped data keys in batches (no object is
rewritten) and then raises the minimum versions, so older key versions stop
decrypting. rotation.max_age (default P1Y) says when a key is due; a run
stopped by an outage resumes where it stopped.
  recvault keys rotate [--region JP | --subject ID]
  recvault keys status         keys due, versions in use, rotations open or failed""",
}


@app.command("help")
def help_topic(
    topic: Annotated[
        str | None,
        typer.Argument(
            help=f"one of: {', '.join(TOPICS)}",
            show_default=False,
            autocompletion=lambda incomplete: [t for t in TOPICS if t.startswith(incomplete)],
        ),
    ] = None,
) -> None:
    """Explain a concept: retention, holds, erasure, residency, rotation."""
    if topic is None:
        typer.echo("Topics (recvault help TOPIC):")
        for name, body in TOPICS.items():
            typer.echo(f"  {name:<10} {body.splitlines()[0].split(': ', 1)[-1]}")
        return
    text = TOPICS.get(topic.strip().lower())
    if text is None:
        raise InvalidInput(f"no help topic {topic!r} (topics: {', '.join(TOPICS)})")
    typer.echo(text)
