// Writes test/vectors/bucket.json from an independent MurmurHash3 implementation (murmurhash3js),
// fed the UTF-8 bytes of each key as a byte string: murmurhash3js masks UTF-16 code units to
// 8 bits, which equals hashing UTF-8 bytes only when each char carries one byte.
// Run: node scripts/make-bucket-vectors.mjs
import { writeFileSync } from 'node:fs'
import murmur from 'murmurhash3js'

const utf8Bytes = (s) => Buffer.from(s, 'utf8').toString('latin1')
const cases = [
  ['empty device', 'r1', '', 1],
  ['ascii', 'rollout-1', 'device-0001', 5],
  ['uuid', 'ro_7f3a', '3b241101-e2bb-4255-8caf-4136c566a962', 25],
  ['percent rounding 2.007', 'salt', 'dev-a', 2.007],
  ['percent rounding 2.0074', 'salt', 'dev-b', 2.0074],
  ['percent rounding 2.0075', 'salt', 'dev-c', 2.0075],
  ['percent 0', 'salt', 'dev-d', 0],
  ['percent 100', 'salt', 'dev-e', 100],
  ['percent 0.001', 'salt', 'dev-f', 0.001],
  ['percent 99.999', 'salt', 'dev-g', 99.999],
  ['latin-1 accent', 'r', 'é', 50],
  ['accented name', 'r', 'josé-phone', 50],
  ['german', 'r', 'Gerät-Müller', 10],
  ['cyrillic', 'r', 'устройство-42', 33.333],
  ['greek', 'r', 'συσκευή', 12.5],
  ['cjk', 'r', '设备标识符', 1],
  ['japanese', 'r', 'デバイス', 75],
  ['korean', 'r', '기기', 60],
  ['emoji (4-byte utf8)', 'r', '📱device', 50],
  ['astral + combining', 'r', 'e\u0301🚀', 50],
  ['arabic', 'r', 'جهاز', 50],
  ['hebrew', 'r', 'מכשיר', 50],
  ['salt with colon', 'a:b', 'c', 50],
  ['non-ascii salt', 'déploiement', 'device-1', 50],
  ['long id', 'salt', 'x'.repeat(200), 50],
  ['tail 1', 'r', 'a', 50],
  ['tail 2', 'r', 'ab', 50],
  ['tail 3', 'r', 'abc', 50],
  ['tail 0', 'r', 'abcd', 50],
]
for (let i = 0; i < 40; i++) {
  // A spread of ids and percents, deterministic.
  const percent = [1, 5, 25, 50, 100, 0.5, 12.345, 2.007][i % 8]
  cases.push([`spread ${i}`, `rollout-${i % 5}`, `dev-${(i * 7919) % 100003}-${'αβγ'[i % 3]}`, percent])
}
const vectors = cases.map(([name, salt, deviceId, percent]) => {
  const hash = murmur.x86.hash32(utf8Bytes(`${salt}:${deviceId}`), 0) >>> 0
  const bucket = hash % 100000
  return [name, salt, deviceId, percent, hash, bucket, bucket < Math.round(percent * 1000)]
})
writeFileSync(
  new URL('../test/vectors/bucket.json', import.meta.url),
  JSON.stringify(
    {
      format: 'bucket/1',
      source: 'murmurhash3js 3.0.1 x86.hash32 over UTF-8 bytes, seed 0',
      columns: ['name', 'salt', 'deviceId', 'percent', 'hash', 'bucket', 'inCandidate'],
      vectors,
    },
    null,
    1,
  ) + '\n',
)
console.log(`${vectors.length} vectors`)
