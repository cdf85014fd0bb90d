import json

from adapters.wecom import render
from adapters.wecom.parse import button_key_decode
from bot.model import Button, ButtonStyle, Card, Table, Text, Tone


def card(**kw: object) -> Card:
    base: dict[str, object] = {
        "card_id": "card/7",
        "title": "采购单 PO-42 待审批：华东供应商有限公司的一批饮料和零食",
        "tone": Tone.WARNING,
        "fields": (("供应商", "华东"), ("金额", "¥1,234.00")),
        "tables": (Table(("商品", "数量"), (("可乐", "12"), ("薯片", "30"))),),
        "note": "请在今天内审批",
        "buttons": (
            Button("批准", "po.approve", {"po": "PO-42"}, ButtonStyle.PRIMARY),
            Button("驳回", "po.reject", {"po": "PO-42"}, ButtonStyle.DANGER),
        ),
    }
    base.update(kw)
    return Card(**base)  # type: ignore[arg-type]


def test_button_card_is_a_button_interaction_template_card() -> None:
    [body] = render.card_bodies(card())
    tc = body["template_card"]
    assert body["msgtype"] == "template_card"
    assert tc["card_type"] == "button_interaction"
    assert len(tc["main_title"]["title"]) == 26 and tc["main_title"]["title"].endswith("…")
    assert tc["source"] == {"desc": "注意", "desc_color": 2}
    assert tc["horizontal_content_list"][1] == {"keyname": "金额", "value": "¥1,234.00"}
    assert "可乐 | 12" in tc["sub_title_text"] and "请在今天内审批" in tc["sub_title_text"]
    assert tc["task_id"].startswith("card_7@")
    assert [b["style"] for b in tc["button_list"]] == [1, 3]
    assert button_key_decode(tc["button_list"][0]["key"]) == ("po.approve", {"po": "PO-42"}, "card/7")
    assert "replace_text" not in tc


def test_limits_are_respected() -> None:
    many = tuple(Button(f"按钮{i}号很长的文字标签", f"a{i}") for i in range(9))
    fields = tuple((f"字段名字很长{i}", "值" * 40) for i in range(9))
    tc = render.template_card(card(buttons=many, fields=fields))
    assert len(tc["button_list"]) == 6
    assert all(len(b["text"]) <= 10 for b in tc["button_list"])
    assert len(tc["horizontal_content_list"]) == 6
    assert all(len(f["keyname"]) <= 5 and len(f["value"]) <= 26 for f in tc["horizontal_content_list"])
    assert tc["horizontal_content_list"][-1]["value"] == "另有 4 项"
    assert len(render.task_id("x" * 300).encode()) <= 128


def test_status_greys_buttons_on_update_and_is_markdown_on_send() -> None:
    decided = card(status="已批准 · 李四")
    assert render.template_card(decided)["replace_text"] == "已批准 · 李四"
    [body] = render.card_bodies(decided)
    assert body["msgtype"] == "markdown"
    assert "**已批准 · 李四**" in body["markdown"]["content"]
    assert "批准 /" not in body["markdown"]["content"]


def test_long_text_is_split_at_lines_and_capped() -> None:
    text = "\n".join(f"第{i}行：" + "库存" * 20 for i in range(200))
    bodies = render.text_bodies(Text(text))
    assert 1 < len(bodies) <= render.MAX_PARTS
    assert all(len(b["text"]["content"].encode()) <= render.TEXT_BYTES for b in bodies)
    assert bodies[-1]["text"]["content"].endswith("已截断）")
    assert bodies[0]["text"]["content"].endswith("库存")  # cut at a line break
    short = render.text_bodies(Text("你好"))
    assert short == [{"msgtype": "text", "text": {"content": "你好"}}]


def test_key_carries_unicode_compactly() -> None:
    key = json.loads(render.template_card(card())["button_list"][1]["key"])
    assert key == {"a": "po.reject", "v": {"po": "PO-42"}, "c": "card/7"}


def test_a_card_too_big_for_a_template_card_goes_out_in_full_first() -> None:
    rows = tuple((f"商品{i} 500ml", f"{i}箱", "¥2.10/瓶", "¥504.00") for i in range(1, 9))
    big = card(tables=(Table(("商品", "数量", "单价", "金额"), rows),))
    details, body = render.card_bodies(big)
    assert details["msgtype"] == "markdown"
    assert all(" | ".join(row) in details["markdown"]["content"] for row in rows)
    assert "批准 /" not in details["markdown"]["content"]
    tc = body["template_card"]
    assert len(tc["sub_title_text"]) <= render.SUB_TITLE_CHARS
    assert tc["sub_title_text"].endswith(render.DETAILS_ABOVE)
    assert [b["text"] for b in tc["button_list"]] == ["批准", "驳回"]
