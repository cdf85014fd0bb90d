import json

from adapters.dingtalk.render import (
    MAX_BUTTONS,
    MAX_PARTS,
    TEXT_LIMIT,
    TRUNCATED,
    Message,
    card_markdown,
    card_params,
    markdown_messages,
    split,
    text_messages,
)
from bot.model import Button, ButtonStyle, Card, Markdown, Table, Text, Tone

CARD = Card(
    card_id="card-po-42",
    title="采购单 PO-2026-0042 待审批",
    tone=Tone.WARNING,
    fields=(("供应商", "可口可乐"), ("金额", "¥1,200.00")),
    tables=(Table(("商品", "数量"), (("可乐 330ml", "10 箱"), ("雪碧 330ml", "5 箱"))),),
    note="超过 1000 元需经理审批",
    buttons=(
        Button("批准", "po.approve", {"po": "PO-2026-0042"}, ButtonStyle.PRIMARY),
        Button("驳回", "po.reject", {"po": "PO-2026-0042"}, ButtonStyle.DANGER),
    ),
)


def test_text_and_markdown_wire_shapes() -> None:
    (text,) = text_messages(Text("你好"))
    assert text.openapi() == ("sampleText", '{"content":"你好"}')
    assert text.webhook() == {"msgtype": "text", "text": {"content": "你好"}}
    (md,) = markdown_messages(Markdown("", "# 日报\n- **可乐** 10 箱"))
    key, param = md.openapi()
    assert key == "sampleMarkdown"
    assert json.loads(param) == {"title": "日报", "text": "# 日报\n- **可乐** 10 箱"}
    assert Message("image", "@media1", "图").openapi() == ("sampleImageMsg", '{"photoURL":"@media1"}')


def test_long_text_is_split_then_shortened_never_rejected() -> None:
    lines = [f"第 {i} 行 " + "x" * 90 for i in range(100)]
    parts = split("\n".join(lines), TEXT_LIMIT)
    assert len(parts) == 4 and all(len(p) <= TEXT_LIMIT for p in parts)
    assert "\n".join(parts) == "\n".join(lines)
    huge = split("y" * (TEXT_LIMIT * 10), TEXT_LIMIT)
    assert len(huge) == MAX_PARTS and huge[-1].endswith(TRUNCATED)
    assert all(len(p) <= TEXT_LIMIT for p in huge)
    assert split("", TEXT_LIMIT) == [""]


def test_card_params_render_everything_and_carry_the_click_payload() -> None:
    params = card_params(CARD)
    assert all(isinstance(v, str) for v in params.values())
    assert params["title"] == CARD.title
    assert (params["tone"], params["tone_color"]) == ("warning", "#FF9200")
    assert "- **供应商**：可口可乐" in params["content"]
    assert "- 商品: 可乐 330ml · 数量: 10 箱" in params["content"]
    assert params["note"] == "超过 1000 元需经理审批"
    assert (params["status"], params["has_status"]) == ("", "false")
    assert (params["btn1_text"], params["btn1_color"], params["btn1_visible"]) == ("批准", "blue", "true")
    assert (params["btn2_color"], params["btn3_visible"], params["btn3_text"]) == ("red", "false", "")
    assert json.loads(params["btn1_payload"]) == {
        "action": "po.approve",
        "value": {"po": "PO-2026-0042"},
        "card_id": "card-po-42",
    }
    assert params["card_id"] == "card-po-42"


def test_status_replaces_the_buttons() -> None:
    params = card_params(Card(**{**_fields(CARD), "status": "已批准 · 李四 · 10:42"}))
    assert (params["status"], params["has_status"]) == ("已批准 · 李四 · 10:42", "true")
    assert all(params[f"btn{i}_visible"] == "false" for i in range(1, MAX_BUTTONS + 1))


def test_buttons_beyond_the_template_slots_are_announced() -> None:
    many = tuple(Button(f"b{i}", f"a{i}") for i in range(MAX_BUTTONS + 2))
    params = card_params(Card(card_id="c", title="t", buttons=many))
    assert "另有 2 个按钮无法显示" in params["content"]


def test_card_as_markdown_without_template() -> None:
    md = card_markdown(Card(**{**_fields(CARD), "status": "已驳回"}))
    assert md.title == CARD.title
    assert md.markdown.startswith("### 采购单")
    assert "> 超过 1000 元需经理审批" in md.markdown and "**已驳回**" in md.markdown


def _fields(card: Card) -> dict[str, object]:
    return {name: getattr(card, name) for name in card.__dataclass_fields__}
