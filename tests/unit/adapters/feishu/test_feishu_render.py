import json

from adapters.feishu import render
from bot.model import Button, ButtonStyle, Card, Markdown, Table, Text, Tone


def test_card_renders_every_part() -> None:
    card = Card(
        "card-7",
        "采购单 PO-42 待审批",
        Tone.DANGER,
        fields=(("供应商", "华东*特价*"),),
        tables=(Table(("商品", "数量"), tuple((f"商品{i}", str(i)) for i in range(60))),),
        note="今天内审批",
        buttons=(Button("批准", "po.approve", {"po": "PO-42"}, ButtonStyle.PRIMARY),),
    )
    data = render.interactive(card, "group")
    assert data["config"]["update_multi"] is True
    assert data["header"] == {
        "title": {"tag": "plain_text", "content": "采购单 PO-42 待审批"},
        "template": "red",
    }
    elements = data["elements"]
    assert elements[0]["fields"][0]["text"]["content"] == "**供应商**\n华东\\*特价\\*"
    column_sets = [e for e in elements if e["tag"] == "column_set"]
    assert len(column_sets) == 1 + render.MAX_ROWS
    assert any("另有 10 行" in json.dumps(e, ensure_ascii=False) for e in elements)
    assert {"tag": "note", "elements": [{"tag": "plain_text", "content": "今天内审批"}]} in elements
    [button] = elements[-1]["actions"]
    assert button["type"] == "primary"
    assert button["value"] == {
        "action": "po.approve",
        "value": {"po": "PO-42"},
        "card_id": "card-7",
        "k": "group",
    }


def test_status_replaces_buttons() -> None:
    card = Card("c", "t", buttons=(Button("批准", "a"),), status="已批准 · 李四")
    elements = render.interactive(card)["elements"]
    assert all(e["tag"] != "action" for e in elements)
    assert elements[-1]["text"]["content"] == "**已批准 · 李四**"


def test_text_split_and_markdown_card() -> None:
    parts = render.text_contents(Text("行\n" * 30000))
    assert 1 < len(parts) <= render.MAX_PARTS
    assert json.loads(parts[-1][1])["text"].endswith("已截断）")
    [md] = render.markdown_cards(Markdown("日报", "**销售** 12 单"))
    assert md["elements"] == [{"tag": "markdown", "content": "**销售** 12 单"}]
