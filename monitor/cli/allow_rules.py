"""``likeness performer allow|allowed|disallow``: where a performer's voice and likeness are licensed."""

from __future__ import annotations

import click

from monitor.cli.common import App, emit, json_option


@click.command("allow")
@click.argument("performer_id", type=click.IntRange(min=1))
@click.option("--domain", help="A site: the host and its subdomains (studio.example).")
@click.option("--url-prefix", help="URLs that start with this: a channel, a folder (https://video.example/@studio/).")
@click.option("--licensee", help="A licensee's name, matched against the media's Content Credentials signer and the "
                                 "title of the page it is on.")
@click.option("--from", "valid_from", metavar="DATE", help="Valid from this date (or ISO time); default: now.")
@click.option("--until", "valid_until", metavar="DATE", help="Valid through this date (or until this ISO time).")
@click.option("--note", help="The licence, the contract, why.")
@json_option
@click.pass_obj
def performer_allow(app: App, performer_id: int, domain: str | None, url_prefix: str | None, licensee: str | None,
                    valid_from: str | None, valid_until: str | None, note: str | None, as_json: bool) -> None:
    """Allow a performer's voice and likeness somewhere: what is found only there is authorised, unalerted."""
    from enrollment.errors import LikenessError
    from monitor.services.allow_rules import add_allow_rule

    given = [(kind, value) for kind, value in (("domain", domain), ("url_prefix", url_prefix),
                                               ("licensee", licensee)) if value is not None]
    if len(given) != 1:
        raise LikenessError("give one of --domain, --url-prefix or --licensee")
    data = add_allow_rule(app.context, performer_id, *given[0], valid_from, valid_until, note)
    emit(data, as_json, lambda: click.echo(
        f"rule {data['id']}: {data['kind']} {data['value']} ({data['state']}); "
        f"{len(data['detection_ids'])} detection(s) authorised by it"))


@click.command("allowed")
@click.argument("performer_id", type=click.IntRange(min=1))
@json_option
@click.pass_obj
def performer_allowed(app: App, performer_id: int, as_json: bool) -> None:
    """List a performer's allow-list rules."""
    from monitor.services.allow_rules import list_allow_rules

    rows = list_allow_rules(app.context, performer_id)

    def human() -> None:
        for row in rows:
            until = f" until {row['valid_until'][:16]}" if row["valid_until"] else ""
            click.echo(f"{row['id']:>5}  {row['state']:<9} {row['kind']:<10} {row['value']}{until}"
                       f"{'  (' + row['note'] + ')' if row['note'] else ''}")
        if not rows:
            click.echo(f"nothing allowed yet: likeness performer allow {performer_id} --domain …")

    emit(rows, as_json, human)


@click.command("disallow")
@click.argument("rule_id", type=click.IntRange(min=1))
@json_option
@click.pass_obj
def performer_disallow(app: App, rule_id: int, as_json: bool) -> None:
    """Revoke an allow-list rule: what it authorised is new again, and alerted."""
    from monitor.services.allow_rules import revoke_allow_rule

    data = revoke_allow_rule(app.context, rule_id)
    emit(data, as_json, lambda: click.echo(
        f"rule {data['id']} revoked; detections new again: {', '.join(map(str, data['released_ids'])) or 'none'}"))
