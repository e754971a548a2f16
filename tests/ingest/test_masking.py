"""Free text masked at the door (DOMAIN §8): phones, ID numbers and names typed by operators."""

from __future__ import annotations

import pytest
from shumei.ingest.masking import mask_free_text

MASKED = [
    ("联系人王建国，电话13912345678，反映小区电梯故障", "联系人[姓名]，电话[手机号]，反映小区电梯故障"),
    ("来电人：李芳，手机 139-1234-5678，身份证34152319800101123X",
     "来电人：[姓名]，手机 [手机号]，身份证[身份证号]"),
    ("业主张先生反映物业费3000元收费不合理，2023年5月起", "业主[姓名]反映物业费3000元收费不合理，2023年5月起"),
    ("来电人称XQ0012小区停车管理混乱，联系电话：（0564）8123456", "来电人称XQ0012小区停车管理混乱，联系电话：[号码]"),
    # full-width digits, X and separators, as typed with a Chinese input method
    ("诉求人姓名为赵丽，联系方式１３９１２３４５６７８，身份证号３４１５２３１９８００１０１１２３Ｘ",
     "诉求人姓名为[姓名]，联系方式[手机号]，身份证号[身份证号]"),
    ("来电人：孙悦　手机１３９－１２３４－５６７８", "来电人：[姓名]　手机[手机号]"),
    ("李女士来电：楼上装修噪音扰民", "[姓名]来电：楼上装修噪音扰民"),
    ("+86 139 1234 5678 请回电", "[手机号] 请回电"),
    ("住户陈明家中漏水，请尽快处理", "住户[姓名]家中漏水，请尽快处理"),
    ("反映人是刘洋，身份证341523199012310018", "反映人是[姓名]，身份证[身份证号]"),
    ("请联系0564-2612345或13800000000", "请联系[号码]或[手机号]"),
]
KEPT = [
    "来电人反映小区电梯故障多次报修未修复",
    "联系物业未果，业主多次反映",
    "XQ001203小区2023年12月物业费上涨15%，每平米1.2元",
    "该女士表示不满",
    "工单1234567-3已派单",  # an order id of 7 digits is masked as a number (better hidden than not)
]


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_personal_data_in_free_text_is_masked(text, expected):
    assert mask_free_text(text) == expected


@pytest.mark.parametrize("text", KEPT[:4])
def test_text_without_personal_data_is_kept(text):
    assert mask_free_text(text) == text


def test_long_digit_runs_are_hidden_even_when_not_a_phone():
    assert mask_free_text(KEPT[4]) == "工单[号码]已派单"
    assert mask_free_text(None) is None and mask_free_text("") == ""
