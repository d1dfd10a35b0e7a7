;; sparrow dense scan kernel: one query's inner product with every row of a row-major matrix,
;; four lanes at a time with wasm SIMD. The host (src/index/dense/wasm-kernel.ts) owns the memory
;; layout: it copies rows and the query in, calls a score function, and reads float32 scores back.
;; scripts/build-dense-wasm.ts compiles this text into src/index/dense/dense-kernel-wasm.ts.
(module
  (memory (export "memory") 1)

  ;; out[r] = sum_i rows[r * dim + i] * query[i]  (float32 rows)
  (func (export "scoreF32") (param $rows i32) (param $count i32) (param $dim i32) (param $query i32) (param $out i32)
    (local $r i32) (local $i i32) (local $row i32) (local $blocked i32) (local $acc v128) (local $sum f32)
    (local.set $blocked (i32.and (local.get $dim) (i32.const -4)))
    (local.set $row (local.get $rows))
    (block $rowsDone
      (loop $eachRow
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $count)))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (block $lanesDone
          (loop $eachBlock
            (br_if $lanesDone (i32.ge_u (local.get $i) (local.get $blocked)))
            (local.set $acc
              (f32x4.add (local.get $acc)
                (f32x4.mul
                  (v128.load (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 2))))
                  (v128.load (i32.add (local.get $query) (i32.shl (local.get $i) (i32.const 2)))))))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $eachBlock)))
        (local.set $sum
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
            (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (block $tailDone
          (loop $eachTail
            (br_if $tailDone (i32.ge_u (local.get $i) (local.get $dim)))
            (local.set $sum
              (f32.add (local.get $sum)
                (f32.mul
                  (f32.load (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 2))))
                  (f32.load (i32.add (local.get $query) (i32.shl (local.get $i) (i32.const 2)))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $eachTail)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $r) (i32.const 2))) (local.get $sum))
        (local.set $row (i32.add (local.get $row) (i32.shl (local.get $dim) (i32.const 2))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $eachRow))))

  ;; out[r] = scales[r] * sum_i rows[r * dim + i] * query[i]  (int8 rows, float32 query)
  (func (export "scoreInt8") (param $rows i32) (param $scales i32) (param $count i32) (param $dim i32) (param $query i32) (param $out i32)
    (local $r i32) (local $i i32) (local $row i32) (local $blocked i32) (local $acc v128) (local $sum f32)
    (local.set $blocked (i32.and (local.get $dim) (i32.const -4)))
    (local.set $row (local.get $rows))
    (block $rowsDone
      (loop $eachRow
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $count)))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (block $lanesDone
          (loop $eachBlock
            (br_if $lanesDone (i32.ge_u (local.get $i) (local.get $blocked)))
            ;; Four int8 values widened to four float32 lanes.
            (local.set $acc
              (f32x4.add (local.get $acc)
                (f32x4.mul
                  (f32x4.convert_i32x4_s
                    (i32x4.extend_low_i16x8_s
                      (i16x8.extend_low_i8x16_s
                        (v128.load32_zero (i32.add (local.get $row) (local.get $i))))))
                  (v128.load (i32.add (local.get $query) (i32.shl (local.get $i) (i32.const 2)))))))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $eachBlock)))
        (local.set $sum
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
            (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (block $tailDone
          (loop $eachTail
            (br_if $tailDone (i32.ge_u (local.get $i) (local.get $dim)))
            (local.set $sum
              (f32.add (local.get $sum)
                (f32.mul
                  (f32.convert_i32_s (i32.load8_s (i32.add (local.get $row) (local.get $i))))
                  (f32.load (i32.add (local.get $query) (i32.shl (local.get $i) (i32.const 2)))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $eachTail)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $r) (i32.const 2)))
          (f32.mul (local.get $sum) (f32.load (i32.add (local.get $scales) (i32.shl (local.get $r) (i32.const 2))))))
        (local.set $row (i32.add (local.get $row) (local.get $dim)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $eachRow))))
)
