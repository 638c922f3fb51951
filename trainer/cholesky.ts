import { EdgefleetError } from '../core/errors.ts'

/**
 * Solves A·X = B for a symmetric positive-definite `A` (d×d, row-major) and `B` (d×k, row-major) by
 * the Cholesky factorization A = L·Lᵀ (Golub & Van Loan, Matrix Computations, 4th ed., alg. 4.2.2),
 * then forward and back substitution. Throws `validation_failed` when A is not positive definite.
 *
 * @example choleskySolve(Float64Array.of(4, 2, 2, 3), Float64Array.of(2, 1), 2, 1) // x = [0.5, 0]
 */
export function choleskySolve(a: ArrayLike<number>, b: ArrayLike<number>, d: number, k: number): Float64Array {
  const l = new Float64Array(d * d)
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j]
      for (let p = 0; p < j; p++) s -= l[i * d + p] * l[j * d + p]
      if (i === j) {
        if (!(s > 0))
          throw new EdgefleetError(
            'validation_failed',
            'the covariance matrix is not positive definite (a constant or collinear feature?)',
          )
        l[i * d + i] = Math.sqrt(s)
      } else {
        l[i * d + j] = s / l[j * d + j]
      }
    }
  }
  const x = Float64Array.from(b)
  for (let c = 0; c < k; c++) {
    // L·y = b, then Lᵀ·x = y, in place in column c of x.
    for (let i = 0; i < d; i++) {
      let s = x[i * k + c]
      for (let p = 0; p < i; p++) s -= l[i * d + p] * x[p * k + c]
      x[i * k + c] = s / l[i * d + i]
    }
    for (let i = d - 1; i >= 0; i--) {
      let s = x[i * k + c]
      for (let p = i + 1; p < d; p++) s -= l[p * d + i] * x[p * k + c]
      x[i * k + c] = s / l[i * d + i]
    }
  }
  return x
}
