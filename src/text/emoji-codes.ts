/**
 * WeChat / WeCom emoji codes: the word a client puts between square brackets when a member picks an emoji
 * from the built-in panel (`[呲牙]`, `[强]`, `[Smile]`, `[OK]`). Other clients and bots receive the code as
 * plain text, so it is part of what members "type".
 *
 * The list holds the names of the standard panel as the clients send them: the simplified-Chinese names
 * (the classic faces, the later additions such as 捂脸 / 旺柴 / 裂开, the small "emoji" set such as 破涕为笑,
 * and retired names older clients still send), their English names (current and older spellings), and the
 * traditional-Chinese names that differ by more than the characters (露齒笑 for 呲牙). Matching is done on the
 * normalized name, so width, case, traditional characters and inner punctuation do not matter (`[發呆]`,
 * `[smile]` and `[Bah！L]` / `[BahL]` are all known). Only a bracketed word on this list is an emoji code:
 * `[公告]`, `[图片]` or `[1]` stay text.
 */
export const WECHAT_EMOJI_CODES: readonly string[] = [
  // Classic faces and symbols (simplified Chinese), in panel order.
  '微笑', '撇嘴', '色', '发呆', '得意', '流泪', '害羞', '闭嘴', '睡', '大哭', '尴尬', '发怒', '调皮', '呲牙', '惊讶',
  '难过', '酷', '冷汗', '抓狂', '吐', '偷笑', '愉快', '白眼', '傲慢', '饥饿', '困', '惊恐', '流汗', '憨笑', '悠闲',
  '奋斗', '咒骂', '疑问', '嘘', '晕', '疯了', '衰', '骷髅', '敲打', '再见', '擦汗', '抠鼻', '鼓掌', '糗大了', '坏笑',
  '左哼哼', '右哼哼', '哈欠', '鄙视', '委屈', '快哭了', '阴险', '亲亲', '吓', '可怜', '菜刀', '西瓜', '啤酒', '篮球',
  '乒乓', '咖啡', '饭', '猪头', '玫瑰', '凋谢', '嘴唇', '爱心', '心碎', '蛋糕', '闪电', '炸弹', '刀', '足球', '瓢虫',
  '便便', '月亮', '太阳', '礼物', '拥抱', '强', '弱', '握手', '胜利', '抱拳', '勾引', '拳头', '差劲', '爱你', 'NO',
  'OK', '爱情', '飞吻', '跳跳', '发抖', '怄火', '转圈', '磕头', '回头', '跳绳', '投降', '激动', '乱舞', '献吻',
  '左太极', '右太极',
  // Later additions.
  '嘿哈', '捂脸', '奸笑', '机智', '皱眉', '耶', '红包', '鸡', '吃瓜', '加油', '加油加油', '汗', '天啊', 'Emm',
  '社会社会', '旺柴', '好的', '打脸', '哇', '翻白眼', '666', '让我看看', '叹气', '苦涩', '裂开', '合十', '庆祝', '發',
  '福', '烟花', '爆竹', '蜡烛', '囧', '小狗',
  // The small "emoji" set.
  '笑脸', '生病', '破涕为笑', '吐舌', '脸红', '恐惧', '失望', '无语',
  // Retired names still sent by older clients.
  '可爱', '大兵', '折磨', '示爱',
  // English names, current and older spellings.
  'Smile', 'Grimace', 'Drool', 'Scowl', 'CoolGuy', 'Sob', 'Shy', 'Silent', 'Shutup', 'Sleep', 'Cry', 'Awkward',
  'Angry', 'Tongue', 'Grin', 'Surprise', 'Frown', 'Ruthless', 'Blush', 'Tension', 'Scream', 'Puke', 'Chuckle',
  'Joyful', 'Slight', 'Smug', 'Hungry', 'Drowsy', 'Panic', 'Sweat', 'Laugh', 'Commando', 'Loafer', 'Determined',
  'Strive', 'Scold', 'Shocked', 'Doubt', 'Shhh', 'Dizzy', 'Tormented', 'Toasted', 'BadLuck', 'Skull', 'Hammer',
  'Wave', 'Bye', 'Speechless', 'Relief', 'NosePick', 'DigNose', 'Clap', 'Shame', 'Trick', 'Bah！L', 'Bah！R',
  'Yawn', 'Pooh-pooh', 'Lookdown', 'Shrunken', 'Wronged', 'TearingUp', 'Puling', 'Sly', 'Kiss', 'Wrath', 'Uh Oh',
  'Whimper', 'Cleaver', 'Watermelon', 'Melon', 'Beer', 'Basketball', 'PingPong', 'Coffee', 'Rice', 'Pig', 'Rose',
  'Wilt', 'Lips', 'Lip', 'Heart', 'BrokenHeart', 'Cake', 'Lightning', 'Bomb', 'Dagger', 'Soccer', 'Ladybug',
  'Poop', 'Moon', 'Sun', 'Gift', 'Hug', 'ThumbsUp', 'Thumbs Up', 'ThumbsDown', 'Weak', 'Shake', 'Peace', 'Victory',
  'Fight', 'Salute', 'Beckon', 'Fist', 'Pinky', 'RockOn', 'Love', 'InLove', 'Blowkiss', 'Waddle', 'Tremble',
  'Aaagh!', 'Twirl', 'Kotow', 'Lookback', 'Jump', 'JumpRope', 'Surrender', 'Hooray', 'HeyHey', 'Smooch',
  'TaiChi L', 'TaiChi R', 'Hey', 'Facepalm', 'Smirk', 'Smart', 'Concerned', 'Yeah!', 'Packet', 'Chick', 'Onlooker',
  'GoForIt', 'KeepFighting', 'Sweats', 'OMG', 'Respect', 'Doge', 'NoProb', 'MyBad', 'Wow', 'Boring', 'Awesome',
  'LetMeSee', 'Sigh', 'Hurt', 'Broken', 'Worship', 'Party', 'Rich', 'Blessing', 'Fireworks', 'Firecracker',
  'Candle', 'Pup', 'Happy', 'Sick', 'Flushed', 'Terror', 'LetDown', 'Duh', 'Lol',
  // Traditional-Chinese names that differ from the simplified ones by more than the characters.
  '露齒笑', '掩面', '歐耶', '小雞', '睡覺', '大笑', '親吻', '紅唇', '枯萎', '擊拳', '吼嘿', '一言難盡', '失敬失敬',
  '崩潰', '難受', '嘆息', '悔恨', '開心', '震驚', '骷髏頭', '熱戀', '生氣',
]
