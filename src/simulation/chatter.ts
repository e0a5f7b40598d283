import type { Random } from '../ports/random'

/**
 * Synthetic Chinese group-chat activity for the simulator and the pipeline benchmark.
 * Pure and dependency-free: every random choice comes from the `Random` passed in, so output is
 * reproducible under `seededRandom`. Module load only builds constant tables.
 */

/** What a generated chat line is doing. */
export type ChatKind = 'greeting' | 'question' | 'answer' | 'chitchat' | 'checkin' | 'thanks' | 'advert' | 'emoji'

/** One generated chat message with the kind it was generated as. */
export interface ChatLine { kind: ChatKind; text: string }

/** A kind of customer community, with topic words that generated sentences talk about. */
export interface GroupTheme { id: string; name: string; topics: string[] }

/** Believable WeCom customer-community themes. */
export const GROUP_THEMES: GroupTheme[] = [
  {
    id: 'book-club',
    name: '周末读书会',
    topics: ['《三体》', '《百年孤独》', '《活着》', '读书笔记', '共读计划', '书单', '电子书', 'Kindle', '东野圭吾', '非虚构', '读后感', '纸质书', '余华', '推理小说'],
  },
  {
    id: 'parenting',
    name: '宝妈育儿交流群',
    topics: ['辅食', '奶粉', '湿疹', '早教', '疫苗', '幼儿园', '睡整觉', '纸尿裤', '夜奶', '绘本', '出牙', '积食', '儿保', '断奶'],
  },
  {
    id: 'running',
    name: '晨跑打卡群',
    topics: ['配速', '半马', '全马', '跑鞋', '间歇跑', '膝盖', '晨跑', '心率', '拉伸', '跑量', '运动手表', 'LSD', '马拉松报名', '能量胶'],
  },
  {
    id: 'gadget-support',
    name: '数码产品售后群',
    topics: ['保修', '退换货', '固件升级', '蓝牙耳机', '充电器', '屏幕', '序列号', '快递', '发票', '续航', 'App', '以旧换新', '降噪', '售后网点'],
  },
  {
    id: 'exam-prep',
    name: '考研互助群',
    topics: ['政治', '英语一', '数学二', '专业课', '真题', '复试', '调剂', '肖秀荣', '背单词', '择校', '网课', '错题本', '408', '国家线'],
  },
  {
    id: 'group-buy',
    name: '幸福里社区团购群',
    topics: ['团长', '提货点', '草莓', '土鸡蛋', '拼单', '配送', '接龙', '水果', '车厘子', '牛奶', '退款', '预售', '小龙虾', '大米'],
  },
  {
    id: 'pets',
    name: '铲屎官交流群',
    topics: ['猫粮', '驱虫', '绝育', '猫砂', '疫苗', '宠物医院', '冻干', '掉毛', '遛狗', '洗澡', '狗粮', '罐头', '体检', '软便'],
  },
  {
    id: 'photography',
    name: '摄影爱好者群',
    topics: ['镜头', '光圈', '后期', '扫街', '人像', '胶片', '三脚架', '构图', 'Lightroom', '白平衡', '夜景', '滤镜', '定焦', '外拍'],
  },
]

// ---------------------------------------------------------------------------------------------
// Shared vocabulary
// ---------------------------------------------------------------------------------------------

const EMOJI: readonly string[] = [
  '😂', '👍', '🌹', '😄', '🤣', '😭', '🙏', '💪', '👏', '😊', '🤔', '😅', '❤️', '🎉', '😁', '🥰', '😱', '🙈', '✌️', '🔥',
  '[捂脸]', '[呲牙]', '[强]', '[玫瑰]', '[抱拳]', '[偷笑]', '[旺柴]', '[破涕为笑]', '[OK]', '[愉快]',
]
const ENGLISH: readonly string[] = ['OK', 'nice', 'emmm', 'yyds', 'get', 'bug', 'PPT', 'plan B', 'deadline', 'vlog', 'OMG', 'cool', 'low', 'high', 'fine', 'sorry', 'bye']
const HAHA: readonly string[] = ['哈哈', '哈哈哈', '哈哈哈哈', '嘿嘿', '哈哈哈哈哈', '笑死', '2333']
const TIMES: readonly string[] = ['今天', '昨天', '明天', '周末', '下周', '这周', '早上', '晚上', '刚才', '上个月']
const ENDINGS: readonly string[] = ['？', '?', '？？', '呀？', '啊', '～', '…', '。', '！']
const CITIES: readonly string[] = [
  '北京', '上海', '广州', '深圳', '杭州', '成都', '武汉', '南京', '西安', '重庆', '苏州', '长沙', '天津', '郑州', '青岛',
  '厦门', '合肥', '昆明', '济南', '宁波', '佛山', '东莞', '无锡', '福州', '大连', '沈阳', '哈尔滨', '南宁', '贵阳', '石家庄',
]
const FIXES: readonly string[] = ['多试几次', '看一下官方说明', '找群主登记一下', '先别急，慢慢来', '做好记录', '问一下客服', '先看群公告', '循序渐进', '提前预约', '把截图发群里']
const FREEBIES: readonly string[] = ['护肤品小样', '儿童绘本', '考研资料', '运动手环', '纸巾一箱', '鸡蛋10枚', '电影票', '话费50元', '蓝牙耳机', '定制水杯']
const PRODUCTS: readonly string[] = ['面膜', '茅台', '奶粉', '名牌包', '手机', '保健品', '减肥茶', '游戏账号', '会员卡', '口红']
const SERVICES: readonly string[] = ['代写论文', '办理信用卡', '网贷', '刷流水', '代考', '涨粉', '开发票', '注册公司']
const WX_MARKERS: readonly string[] = ['加.V.信', '加 v 信', '加Ｖ信', '加微', '+微', '加V信', '+V信', '加v信', '加微.信', '➕V信', '加 微 信', '威(V信)']
const PINYIN: readonly string[] = ['xiao', 'mei', 'ling', 'jia', 'hao', 'wang', 'li', 'zhang', 'qian', 'yun', 'fei', 'lucky', 'money', 'vip', 'kefu']
const URL_HOSTS: readonly string[] = ['t.cn/', 'dwz.cn/', 'url.cn/', 'mp.vip/', 'jz88.top/', 'fl666.cc/', 'lq.xyz/']
const URL_CHARS = 'abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789'

// ---------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------

type Slot =
  | 'topic' | 'topic2' | 'emoji' | 'en' | 'num' | 'name' | 'ha' | 'time' | 'end' | 'city' | 'fix' | 'day'
  | 'wx' | 'wxid' | 'qq' | 'url' | 'money' | 'money2' | 'small' | 'pct' | 'freebie' | 'product' | 'service'

const SLOTS: ReadonlySet<string> = new Set<Slot>([
  'topic', 'topic2', 'emoji', 'en', 'num', 'name', 'ha', 'time', 'end', 'city', 'fix', 'day',
  'wx', 'wxid', 'qq', 'url', 'money', 'money2', 'small', 'pct', 'freebie', 'product', 'service',
])

/** A template pre-split into literal text (even indices) and slot names (odd indices). */
type Template = readonly string[]

/** Splits "{slot}" templates once at load; an unknown slot is a programming error. */
function compile(templates: readonly string[]): Template[] {
  return templates.map((template) => {
    const parts = template.split(/\{(\w+)\}/)
    for (let i = 1; i < parts.length; i += 2) {
      if (!SLOTS.has(parts[i] as string)) throw new Error(`chatter: unknown slot {${parts[i]}} in "${template}"`)
    }
    return parts
  })
}

const CHITCHAT = compile([
  '今天{topic}的话题好热闹{emoji}',
  '{ha}笑死我了{emoji}',
  '{time}又是被{topic}支配的一天{emoji}',
  '我觉得{topic}这个事见仁见智吧',
  '刚看到群里在聊{topic}，我也来凑个热闹',
  '{time}有点忙，晚点再来爬楼',
  '这个{en}，真的绝了{emoji}',
  '同感同感，{topic}确实是个大问题',
  '有一说一，{topic}还是挺重要的',
  '{ha}，你们聊得好开心',
  '潜水好久了，冒个泡{emoji}',
  '{time}天气不错，适合出去走走',
  '我家那边{topic}也是这样，{num}多块钱',
  '群里好安静啊，大家都在忙吗{end}',
  '刚下班，累瘫了{emoji}',
  '周末有人一起吗？顺便聊聊{topic}',
  '我也想知道，蹲一个{emoji}',
  '+1，{topic}我也很关注',
  '第一次在群里说话，请多关照{emoji}',
  '{topic}这块我踩过坑，{num}次了{emoji}',
  '真的假的{end}',
  '{en}！{time}{topic}进度{num}%',
  '看了下大家对{topic}的讨论，收获挺多的',
  '太真实了{emoji}{emoji}',
  '{city}今天下雨了，出门记得带伞',
  '{topic}这个东西，懂的都懂{ha}',
])

const QUESTIONS = compile([
  '请问{topic}有什么推荐的吗{end}',
  '有没有人知道{topic}怎么弄{end}',
  '新人求问，{topic}和{topic2}哪个更好？',
  '@群主 {topic}的资料在哪里可以下载？',
  '大家{topic}一般花多少钱啊{end}',
  '问一下，{time}的活动还有名额吗？',
  '{topic}这个问题有人遇到过吗{emoji}',
  '有没有懂{topic}的朋友，私聊请教一下🙏',
  '请问群里有{city}的吗？想问下{topic}',
  '{topic}第{num}步一直不成功，怎么办{end}',
  '这个{en}是什么意思啊{end}',
  '想问问大家{topic}坚持多久才有效果？',
  '谁能分享一下{topic}的经验吗{emoji}',
  '{topic}现在还能报名吗？截止到几号{end}',
  '在吗在吗，{topic}有人了解吗',
  '求推荐靠谱的{topic}，预算{num}00左右',
  '{time}说的{topic}是几点开始？',
])

const ANSWERS = compile([
  '@{name} 我之前也遇到过，{topic}要{fix}',
  '{topic}的话建议先看一下群公告',
  '可以试试{topic2}，我用了{num}个月挺好的{emoji}',
  '这个问群主最清楚，我记得是{time}截止',
  '@{name} 群文件里有，搜一下{topic}就能找到',
  '不用太纠结，{topic}适合自己最重要',
  '我是{city}的，{topic}这边挺方便的',
  '我的经验是{topic}要坚持，至少{num}周',
  '{en}，我一般是{fix}',
  '楼上说的对，{topic}确实要注意{emoji}',
  '{topic}其实不难，多练几次就好了',
  '@{name} 私聊你了，看下消息',
  '之前群里讨论过{topic}，往上翻翻聊天记录',
  '我{time}刚弄好，{fix}就行👍',
  '性价比的话还是{topic2}吧',
  '可以的，我上周刚办完，大概{num}天',
  '@{name} {topic}{fix}就好，别担心{emoji}',
])

const THANKS = compile([
  '谢谢@{name}！{emoji}',
  '感谢分享🌹',
  '收到，谢谢大家{emoji}',
  '太感谢了，帮了大忙🙏',
  '谢谢群主，辛苦了{emoji}',
  '学到了，谢谢{emoji}',
  '多谢多谢[抱拳]',
  '感谢各位的解答，{topic}的问题解决了',
  '好的谢谢[玫瑰]',
  '收到！辛苦了👍',
  '{en}，thanks～',
])

const CHECKINS = compile([
  // Most members just send the keyword; the rest add streak counts, emoji and topics around it.
  '签到',
  '签到',
  '打卡',
  '签到[呲牙]',
  '打卡✅ 第{day}天',
  '#打卡 {topic} Day{day}',
  '签到{emoji}',
  '今日{topic}已完成，打卡{emoji}',
  '早起打卡，今天也要加油💪',
  '每日签到，第{day}天了',
  '打卡 {num}/{day} {emoji}',
  '【签到】{topic}第{day}天，坚持就是胜利',
  '接龙打卡：{name} {topic} ✅',
  '签到签到，{time}{topic}计划完成{num}0%',
])

const ADVERTS = compile([
  '兼职日结，手机操作，每天{money}元，有意者{wx}：{wxid}',
  '【招聘】宝妈学生党兼职，在家也能做，日赚{money}+，{wx}{wxid}',
  '刷单返利，一单一结，佣金{pct}%，{wx} {wxid}',
  '免费领取{freebie}，名额有限先到先得👉 {url}',
  '招代理！零门槛零囤货，月入{money2}不是梦，{wx}{wxid}',
  '🔥免费送{freebie}，只需关注公众号，详情{wx}：{wxid}',
  '需要{service}的朋友可以加我QQ：{qq}',
  '打扰了，本人做{product}代理，正品保证，有需要{wx}{wxid}',
  '纯手工兼职，不收任何费用，日结{money}，联系QQ{qq}',
  '抖音点赞员，一单{small}元，日结，{wx}：{wxid}',
  '{city}同城交友，寂寞的点这里 {url}',
  '内部渠道{product}低价出，比官网便宜{pct}%，{wx}{wxid}',
  '低息贷款，无抵押秒到账，额度{money2}，QQ：{qq}',
  '群里有需要{service}的吗？专业团队，{wx}{wxid}',
  '💰网赚项目💰 零投资，每天{small}分钟，轻松日入{money}，{url}',
  '转发此消息到{num}个群，免费领取{freebie}！{url}',
  '招募线上代理，一件代发，{wx}{wxid}备注「{topic}」',
  '本人长期收{product}，高价回收，QQ{qq}（同V信）',
])

const GREETINGS_MORNING: readonly string[] = ['早上好', '早安☀️', '大家早上好🌹', '早呀', '早～', '早上好，新的一天加油💪', '早安打工人', '各位早']
const GREETINGS_NOON: readonly string[] = ['中午好', '午饭吃了吗？', '中午好，午休一下😴', '大家中午好🌹']
const GREETINGS_AFTERNOON: readonly string[] = ['下午好', '下午好，来杯咖啡☕', '大家下午好', '下午好呀🌹']
const GREETINGS_EVENING: readonly string[] = ['晚上好', '大家晚上好🌙', '晚上好，今天辛苦了', '晚饭吃了吗']
const GREETINGS_NIGHT: readonly string[] = ['晚安', '晚安🌙', '大家晚安，早点休息', '睡了睡了，晚安😴', '晚安好梦', '熬夜伤身，早点睡哈']
const GREETINGS_ANY: readonly string[] = ['大家好', '哈喽', 'Hello～', '大家好，我是新来的🙋', '嗨', 'hi 各位', '大家好呀🌹', '新人报到，请多关照']

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

const COMMON_SURNAMES: readonly string[] = ['王', '李', '张', '刘', '陈', '杨', '黄', '赵', '吴', '周', '徐', '孙', '马', '朱', '胡', '郭', '何', '林', '高', '罗']
const SURNAMES: readonly string[] = [
  ...COMMON_SURNAMES,
  '郑', '梁', '谢', '宋', '唐', '许', '韩', '冯', '邓', '曹', '彭', '曾', '肖', '田', '董', '袁', '潘', '于', '蒋', '蔡',
  '余', '杜', '叶', '程', '苏', '魏', '吕', '丁', '任', '沈', '姚', '卢', '姜', '崔', '钟', '谭', '陆', '汪', '范', '金',
  '石', '廖', '贾', '夏', '韦', '付', '方', '白', '邹', '孟', '熊', '秦', '邱', '江', '尹', '薛', '闫', '段', '雷', '侯',
  '龙', '史', '陶', '黎', '贺', '顾', '毛', '郝', '龚', '邵', '万', '钱', '严', '覃', '武', '戴', '莫', '孔', '向', '汤',
  '欧阳', '司马', '上官', '诸葛',
]
const GIVEN_CHARS: readonly string[] = Array.from(
  '伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕彬鑫鹏辉宇浩然欣怡梓涵子轩雨泽晨思博文俊一诺佳琪' +
  '婷雪慧颖琳晶建国志丹亮健斌海峰波林丽莉宁凯飞莹春梅兰晓东楠瑶悦萱涵可馨依琳晗昊天睿哲嘉怡若彤诗语欢婕璐蕾瑞恒' +
  '子墨宸铭翔磊毅坤鸣远航帆心妍菲露薇',
)
const NICK_EMOJI: readonly string[] = ['🌸', '🌻', '🍀', '🌙', '☀️', '🐱', '🐰', '🍓', '🌈', '⭐', '🎈', '🦋', '💫', '🍊', '🐳']
const ENGLISH_NAMES: readonly string[] = [
  'Jason', 'Kevin', 'Amy', 'Lily', 'Tony', 'Cindy', 'Eric', 'Grace', 'Leo', 'Vicky', 'Jack', 'Coco', 'Sunny', 'Anna', 'David',
  'Mia', 'Alex', 'Emma', 'Ryan', 'Judy', 'Peter', 'Nancy', 'Frank', 'Sophia', 'Allen', 'Iris', 'Ben', 'Wendy', 'Sam', 'Tina',
]
const POETIC: readonly string[] = [
  '追风少年', '快乐的小鱼', '一只猫', '岁月静好', '向日葵', '平安喜乐', '简单就好', '随遇而安', '人间清醒', '半糖主义',
  '星辰大海', '奔跑的蜗牛', '知足常乐', '凉白开', '不吃香菜', '早睡早起', '柠檬不酸', '橘子汽水', '山有木兮', '南风知我意',
]
const TRADES: readonly string[] = ['装修', '保险', '房产', '教培', '美容', '花店', '茶叶', '摄影', '律师', '健身']
const TITLES: readonly string[] = ['老师', '经理', '总', '姐', '哥', '医生', '工']

/** Plausible Chinese display name: real names mostly, plus common WeCom-style nicknames. */
export function chineseName(random: Random): string {
  const r = random.next()
  const surname = (): string => (random.next() < 0.7 ? random.pick(COMMON_SURNAMES) : random.pick(SURNAMES))
  const given = (): string => random.pick(GIVEN_CHARS)
  if (r < 0.46) return surname() + given() + (random.next() < 0.7 ? given() : '')
  if (r < 0.54) return '小' + given() + (random.next() < 0.6 ? random.pick(NICK_EMOJI) : given())
  if (r < 0.59) return '阿' + given() + (random.next() < 0.5 ? given() : '')
  if (r < 0.64) return '老' + surname() + '-' + random.pick(random.next() < 0.5 ? CITIES : TRADES)
  if (r < 0.72) return random.pick(ENGLISH_NAMES) + (random.next() < 0.5 ? '-' + random.pick(CITIES) : '_' + surname() + given())
  if (r < 0.78) {
    const c = given()
    return c + c + random.pick(['', '妈', '妈妈', '爸', '酱', random.pick(NICK_EMOJI)])
  }
  if (r < 0.84) return random.pick(POETIC) + (random.next() < 0.5 ? random.pick(NICK_EMOJI) : String(random.int(1, 99)))
  if (r < 0.90) return surname() + random.pick(TITLES) + '-' + random.pick(TRADES) + random.pick(['', '·' + random.pick(CITIES)])
  if (r < 0.95) return surname() + given() + given() + random.pick(NICK_EMOJI)
  return random.pick(['A', 'A01', 'B', '00']) + '-' + random.pick(CITIES) + '-' + surname() + given()
}

// ---------------------------------------------------------------------------------------------
// Chat lines
// ---------------------------------------------------------------------------------------------

const BASE_WEIGHTS = { chitchat: 34, question: 20, answer: 18, thanks: 7, emoji: 7 } as const
const DEFAULT_ADVERT_RATE = 0.01
const DEFAULT_CHECKIN_RATE = 0.05

function randomDigits(random: Random, count: number): string {
  let s = ''
  for (let i = 0; i < count; i++) s += String(random.int(0, 9))
  return s
}

function wechatId(random: Random): string {
  const r = random.next()
  if (r < 0.4) return '1' + String(random.int(3, 9)) + randomDigits(random, 9)
  if (r < 0.7) return 'wxid_' + random.pick(PINYIN) + randomDigits(random, random.int(3, 6))
  return random.pick(PINYIN) + random.pick(PINYIN) + randomDigits(random, random.int(2, 4))
}

function shortUrl(random: Random): string {
  let code = ''
  for (let i = random.int(5, 8); i > 0; i--) code += URL_CHARS[random.int(0, URL_CHARS.length - 1)]
  return (random.next() < 0.6 ? 'http://' : 'https://') + random.pick(URL_HOSTS) + code
}

function fillSlot(random: Random, slot: string, theme: GroupTheme, topic: string): string {
  switch (slot as Slot) {
    case 'topic': return topic
    case 'topic2': {
      if (theme.topics.length < 2) return topic
      const other = random.pick(theme.topics)
      return other === topic ? random.pick(theme.topics) : other
    }
    case 'emoji': return random.pick(EMOJI)
    case 'en': return random.pick(ENGLISH)
    case 'num': return String(random.int(2, 30))
    case 'name': return chineseName(random)
    case 'ha': return random.pick(HAHA)
    case 'time': return random.pick(TIMES)
    case 'end': return random.pick(ENDINGS)
    case 'city': return random.pick(CITIES)
    case 'fix': return random.pick(FIXES)
    case 'day': return String(random.int(1, 365))
    case 'wx': return random.pick(WX_MARKERS)
    case 'wxid': return wechatId(random)
    case 'qq': return String(random.int(1, 9)) + randomDigits(random, random.int(5, 9))
    case 'url': return shortUrl(random)
    case 'money': return String(random.int(1, 9) * 100 + random.pick([0, 0, 50, 88, 99]))
    case 'money2': return random.pick(['3万', '5万', '十万', '2w+', '8000+', '过万'])
    case 'small': return String(random.int(1, 30))
    case 'pct': return String(random.int(5, 40))
    case 'freebie': return random.pick(FREEBIES)
    case 'product': return random.pick(PRODUCTS)
    case 'service': return random.pick(SERVICES)
  }
}

function render(random: Random, templates: readonly Template[], theme: GroupTheme): string {
  const parts = random.pick(templates)
  const topic = theme.topics.length > 0 ? random.pick(theme.topics) : theme.name
  let out = parts[0] as string
  for (let i = 1; i < parts.length; i += 2) out += fillSlot(random, parts[i] as string, theme, topic) + (parts[i + 1] as string)
  return out
}

function greetingFor(random: Random, hour: number | undefined): string {
  if (hour === undefined || random.next() < 0.2) return random.pick(GREETINGS_ANY)
  if (hour >= 5 && hour <= 10) return random.pick(GREETINGS_MORNING)
  if (hour <= 13 && hour > 10) return random.pick(GREETINGS_NOON)
  if (hour <= 17 && hour > 13) return random.pick(GREETINGS_AFTERNOON)
  if (hour <= 20 && hour > 17) return random.pick(GREETINGS_EVENING)
  return random.pick(GREETINGS_NIGHT)
}

function emojiOnly(random: Random): string {
  const r = random.next()
  if (r < 0.15) return random.pick(['666', '6666', '[强][强][强]', '👍👍👍', '🌹🌹🌹', '哈哈哈哈😂', '？？？', '+1'])
  let out = ''
  for (let n = random.int(1, 3); n > 0; n--) out += random.pick(EMOJI)
  return out
}

/** A check-in as members type it: the bare keyword (`plainShare` of the time) or one of its chattier variants. */
export function checkInText(random: Random, theme: GroupTheme, plainShare = 0.6): string {
  if (random.next() < plainShare) return random.next() < 0.8 ? '签到' : '打卡'
  return render(random, CHECKINS, theme)
}

/** An advert as spammers post it (word lists, evasions, links, QQ numbers). */
export function advertText(random: Random, theme: GroupTheme): string {
  return render(random, ADVERTS, theme)
}

/** One chat line with a realistic kind mix for the given hour (0–23), advert rate and base check-in rate. */
export function chatLine(
  random: Random,
  theme: GroupTheme,
  opts: { hour?: number; advertRate?: number; checkinRate?: number } = {},
): ChatLine {
  const hour = opts.hour === undefined ? undefined : ((Math.floor(opts.hour) % 24) + 24) % 24
  const advertRate = opts.advertRate ?? DEFAULT_ADVERT_RATE
  if (random.next() < advertRate) return { kind: 'advert', text: render(random, ADVERTS, theme) }

  // Check-ins cluster in the morning and nearly vanish at night.
  const checkinBase = opts.checkinRate ?? DEFAULT_CHECKIN_RATE
  const checkinFactor = hour === undefined ? 1 : hour >= 6 && hour <= 10 ? 3 : hour >= 22 || hour < 6 ? 0.3 : 1
  if (random.next() < Math.min(1, checkinBase * checkinFactor)) return { kind: 'checkin', text: render(random, CHECKINS, theme) }

  // Greetings peak around waking up and going to bed.
  const greetingWeight = hour === undefined ? 5 : (hour >= 6 && hour <= 9) || hour >= 21 || hour === 0 ? 12 : 3
  const total = greetingWeight + BASE_WEIGHTS.chitchat + BASE_WEIGHTS.question + BASE_WEIGHTS.answer + BASE_WEIGHTS.thanks + BASE_WEIGHTS.emoji
  let u = random.next() * total
  if ((u -= greetingWeight) < 0) return { kind: 'greeting', text: greetingFor(random, hour) }
  if ((u -= BASE_WEIGHTS.chitchat) < 0) return { kind: 'chitchat', text: render(random, CHITCHAT, theme) }
  if ((u -= BASE_WEIGHTS.question) < 0) return { kind: 'question', text: render(random, QUESTIONS, theme) }
  if ((u -= BASE_WEIGHTS.answer) < 0) return { kind: 'answer', text: render(random, ANSWERS, theme) }
  if ((u -= BASE_WEIGHTS.thanks) < 0) return { kind: 'thanks', text: render(random, THANKS, theme) }
  return { kind: 'emoji', text: emojiOnly(random) }
}

// ---------------------------------------------------------------------------------------------
// Fast fixed-length text
// ---------------------------------------------------------------------------------------------

/** Longest clause (in characters) used by messageText; every length 1..MAX_CLAUSE has clauses. */
const MAX_CLAUSE = 9

const CLAUSE_SOURCE: readonly string[] = [
  '好', '嗯', '哦', '对', '是', '啊', '行', '👍', '😂', '🌹', '🙏', '？', '！', '。',
  '好的', '收到', '哈哈', '是的', '谢谢', '可以', 'OK', '在吗', '牛啊', '真棒', '同意', '+1', '666', '早安', '晚安', '厉害', '辛苦', '加油', '没事', '对啊', 'ok',
  '哈哈哈', '我也是', '好厉害', '太难了', '没问题', '真不错', '学到了', '有道理', '蹲一个', '谢谢啦', '早上好', '这么贵', '不至于', 'yyds', 'nice', '辛苦了',
  '[强]', '[玫瑰]', '第一次', '有点难', '怎么办',
  '哈哈哈哈', '今天天气', '大家好呀', '真的假的', '我也想要', '收到谢谢', '太真实了', '笑死我了', '有人在吗', '请问一下', '感谢分享', '不太清楚',
  '我去看看', '刚刚下班', '一起加油', '明天再说', '等我一下', '[捂脸]', '[抱拳]', 'emmm', '挺好用的',
  '有没有人知道', '我觉得还行', '这个怎么弄', '今天好热啊', '周末去哪玩', '大家晚上好', '说得太对了', '我先去忙了', '晚点再聊吧', '有点贵了吧',
  '已经报名了', '完全同意👍', '群主辛苦了', '刚看到消息', '在路上了',
  '我也遇到过这个', '这个价格还行', '感觉还不错吧', '有人一起去吗', '下次一定参加', '大家注意安全', '这个我也想问', '求推荐一个哈',
  '今天跑了5公里', '已经坚持30天', '明天早上见哈', '先收藏一下了', '效果还挺好的',
  '有没有人一起拼单', '等有空了再试试', '大家都是怎么弄的', '这个问题我也遇到', '今天状态特别好💪', '刚才看了一下群', '谢谢大家的建议🙏',
  '我觉得可以试一下', '上次买的还不错哦', '求问有经验的朋友',
  '有没有人知道怎么弄', '我觉得这个方法不错', '大家周末有什么安排', '这个真的挺好用的', '刚刚看到群里的消息', '我去问问客服再说',
  '有经验的朋友说说呗', '今天也是元气满满的', '一直想问这个问题了',
  '真香', '绝了', '明天见', '周末愉快', '好期待啊', 'get到了', '等等我', '下午3点', '100块', '第2天', 'Day7打卡', '买了2箱',
  '晚上8点开始', '差不多50块吧', '我在排队', '链接发一下', '已下单', '谁有资料', '顶一下', '马上到',
]

const SEPARATORS: readonly string[] = ['，', '，', '，', '。', '！', '？', '～', '…', ' ', '😂', '👍']

function buildByLength(): { all: string[]; byLen: string[][] } {
  const all: string[] = []
  const byLen: string[][] = []
  for (let i = 0; i <= MAX_CLAUSE; i++) byLen.push([])
  for (const clause of CLAUSE_SOURCE) {
    const len = Array.from(clause).length
    if (len < 1 || len > MAX_CLAUSE) continue
    ;(byLen[len] as string[]).push(clause)
    if (len > 1) all.push(clause)
  }
  for (let i = 1; i <= MAX_CLAUSE; i++) {
    if ((byLen[i] as string[]).length === 0) throw new Error(`chatter: no clause of length ${i}`)
  }
  return { all, byLen }
}

const { all: CLAUSES, byLen: CLAUSES_BY_LENGTH } = buildByLength()
const CLAUSE_LENGTHS: readonly number[] = CLAUSES.map((c) => Array.from(c).length)

interface TopicTable { words: string[]; lengths: number[] }
const topicTables = new WeakMap<GroupTheme, TopicTable>()

/** Topic words of a theme that fit a clause slot, with their lengths (cached per theme object). */
function topicTable(theme: GroupTheme): TopicTable {
  let table = topicTables.get(theme)
  if (table === undefined) {
    table = { words: [], lengths: [] }
    for (const topic of theme.topics) {
      const len = Array.from(topic).length
      if (len >= 1 && len <= MAX_CLAUSE) { table.words.push(topic); table.lengths.push(len) }
    }
    topicTables.set(theme, table)
  }
  return table
}

/**
 * Chinese chat text of exactly random.int(minChars, maxChars) characters (Array.from count),
 * built from canned clauses, separators and (optionally) the theme's topic words. Hot path: no regexes.
 */
export function messageText(random: Random, minChars: number, maxChars: number, theme?: GroupTheme): string {
  if (!Number.isInteger(minChars) || !Number.isInteger(maxChars) || minChars < 0 || maxChars < minChars) {
    throw new RangeError(`messageText: bad length range [${minChars}, ${maxChars}]`)
  }
  let remaining = minChars === maxChars ? minChars : random.int(minChars, maxChars)
  const topics = theme === undefined ? undefined : topicTable(theme)
  const useTopics = topics !== undefined && topics.words.length > 0
  let out = ''
  while (remaining > MAX_CLAUSE) {
    const u = random.next()
    if (useTopics && u < 0.2) {
      const i = Math.floor(u * 5 * topics.words.length)
      out += topics.words[i] as string
      remaining -= topics.lengths[i] as number
    } else {
      const i = Math.floor(random.next() * CLAUSES.length)
      out += CLAUSES[i] as string
      remaining -= CLAUSE_LENGTHS[i] as number
      if (remaining > MAX_CLAUSE && u > 0.4) {
        out += SEPARATORS[Math.floor(((u - 0.4) / 0.6) * SEPARATORS.length)] as string
        remaining -= 1
      }
    }
  }
  if (remaining > 0) out += random.pick(CLAUSES_BY_LENGTH[remaining] as string[])
  return out
}

// ---------------------------------------------------------------------------------------------
// Zipf
// ---------------------------------------------------------------------------------------------

/** Sampler of indices in [0, n) with P(i) ∝ 1/(i+1)^s; O(log n) per sample via a precomputed CDF. */
export function zipfSampler(random: Random, n: number, s = 1.07): () => number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`zipfSampler: n must be a positive integer, got ${n}`)
  if (!Number.isFinite(s) || s < 0) throw new RangeError(`zipfSampler: s must be a non-negative number, got ${s}`)
  const cdf = new Float64Array(n)
  let sum = 0
  for (let i = 0; i < n; i++) { sum += 1 / Math.pow(i + 1, s); cdf[i] = sum }
  for (let i = 0; i < n; i++) cdf[i] = (cdf[i] as number) / sum
  cdf[n - 1] = 1
  return () => {
    const u = random.next()
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((cdf[mid] as number) > u) hi = mid
      else lo = mid + 1
    }
    return lo
  }
}
