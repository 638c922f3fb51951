import { seededNormal, seededRandom } from '../../scripts/lib/random.ts'

/** One day of the demo weather model's numeric features. */
export type WeatherRow = Record<'precipitation' | 'temp_max' | 'temp_min' | 'wind', number>

/** `n` seeded days of weather around the Seattle training data's means and spreads. */
export function seededWeatherRows(seed: number, n: number): WeatherRow[] {
  const normal = seededNormal(seededRandom(seed))
  return Array.from({ length: n }, () => ({
    precipitation: Math.max(0, 3.3 + 6.5 * normal()),
    temp_max: 15.3 + 7.1 * normal(),
    temp_min: 7.3 + 4.7 * normal(),
    wind: Math.max(0, 3.4 + 1.5 * normal()),
  }))
}
