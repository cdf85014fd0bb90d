"""A photo of a barcode: the product's stock card with the sender's actions, or advice."""

from __future__ import annotations

from core.barcode_reader import decode_image
from tests.scenario.barcode_image import blank_png, ean13_png, phone_photo_png, smudged_labels_png
from tests.scenario.conftest import Console, card, texts


async def test_warehouse_photo_finds_the_product_with_warehouse_actions(console: Console) -> None:
    replies = await console.upload("li", ean13_png("6901234567892"))
    stock = card(replies)
    assert stock["title"] == "库存 · 可口可乐 330ml"
    assert [b["label"] for b in stock["buttons"]] == ["入库", "盘点"]


async def test_a_photo_of_several_megabytes_is_read_whole(console: Console) -> None:
    photo = phone_photo_png("6901234567892")
    assert len(photo) > 4 * 1024 * 1024  # many times what one read of the request stream returns
    assert card(await console.upload("li", photo))["title"] == "库存 · 可口可乐 330ml"


async def test_sales_photo_offers_an_order(console: Console) -> None:
    stock = card(await console.upload("wang", ean13_png("6902538006100")))
    assert stock["title"] == "库存 · 雪碧 500ml" and [b["label"] for b in stock["buttons"]] == ["下单"]


async def test_unknown_code_is_named_and_an_admin_may_create_the_product(console: Console) -> None:
    assert "条码 4006381333931 不在商品库中" in texts(await console.upload("li", ean13_png("4006381333931")))
    offer = card(await console.upload("admin", ean13_png("4006381333931")))
    assert "名称 单位 售价" in texts(await console.press("admin", offer, "新建商品"))
    assert "售价太高：每支 ¥100,000.00，最多 ¥99,999.99" in texts(await console.say("admin", "施德楼铅笔 支 100000"))
    assert "售价不能为负数: -2.5" in texts(await console.say("admin", "施德楼铅笔 支 -2.5"))
    assert "已新建商品 施德楼铅笔" in texts(await console.say("admin", "施德楼铅笔 支 2.5"))
    assert "库存 · 施德楼铅笔" in texts(await console.say("admin", "查 4006381333931"))


async def test_no_code_gives_photo_advice_and_a_broken_file_is_refused_politely(console: Console) -> None:
    assert "拍照小贴士" in texts(await console.upload("li", blank_png()))
    assert "这张图片读不了" in texts(await console.upload("li", b"not an image at all"))


async def test_an_unclear_photo_is_settled_by_the_codes_the_catalog_has(console: Console) -> None:
    """Bled labels are read by one decoder only: not certain. Codes the catalog has win over the rest."""
    sprite, cola, stranger = "6902538006100", "6901234567892", "4006381333931"
    assert decode_image(smudged_labels_png(sprite, stranger)).ambiguous  # the photo really is unclear

    stock = card(await console.upload("wang", smudged_labels_png(sprite, stranger)))
    assert stock["title"] == "库存 · 雪碧 500ml"

    two = card(await console.upload("li", smudged_labels_png(cola, stranger, sprite)))
    assert two["title"] == "照片里有 2 个条码"
    assert sorted(row[0] for row in two["tables"][0]["rows"]) == [cola, sprite]  # the unregistered one dropped
    assert "未登记" not in texts([two])

    unclear = texts(await console.upload("li", smudged_labels_png(stranger, "9787111111115")))
    assert "看不太清" in unclear and stranger in unclear
    assert "看着像 4006381333931" in texts(await console.upload("li", smudged_labels_png(stranger)))


async def test_an_answer_the_product_form_cannot_take_is_named_and_asked_again(console: Console) -> None:
    """Such answers once ended the flow with 没看懂这句话, and the product was never created."""
    offer = card(await console.upload("admin", ean13_png("4006381333931")))
    await console.press("admin", offer, "新建商品")
    for answer, why in (
        ("施德楼铅笔 支 两块五", "售价“两块五”不是数字"),
        ("施德楼铅笔 2.5", "少了单位"),
        ("施德楼铅笔 支", "少了售价"),
        ("施德楼铅笔", "少了单位和售价"),
        ("施德楼铅笔 3 2.5", "单位“3”是数字"),
        ("施德楼铅笔 支 -1", "售价不能为负数"),
    ):
        refused = texts(await console.say("admin", answer))
        assert why in refused and "请回复新商品的 名称 单位 售价" in refused, (answer, refused)
    done = texts(await console.say("admin", "施德楼 铅笔 支 2.5元"))  # a name with a space, a price in 元
    assert "已新建商品 施德楼 铅笔（编码 4006381333931，条码 4006381333931，售价 ¥2.50/支）" in done
