//! Reading a frame's columns by name, and polars helpers every family shares.

use polars::prelude::*;

/// The sum of a float expression within a group, the same to the last bit on every run.
/// polars treats a sum as blind to the order of its input, so its optimiser lets the steps
/// before one (a stable group-by, say) hand rows over in any order; float addition is not
/// associative, and a sum of thousands of amounts then differed in its last bit between runs
/// on the same input. A running sum over the sorted values observes order, so the optimiser
/// must keep it, and it depends on the values alone. An empty group sums to zero, as with
/// `sum`.
pub fn sum_of(e: Expr) -> Expr {
    e.sort(SortOptions::default())
        .cum_sum(false)
        .last()
        .fill_null(lit(0.0))
}

/// A text column in one chunk, for reading by position.
pub fn text_column(df: &DataFrame, name: &str) -> PolarsResult<StringChunked> {
    Ok(df.column(name)?.str()?.rechunk().into_owned())
}

/// A number column in one chunk, for reading by position.
pub fn number_column(df: &DataFrame, name: &str) -> PolarsResult<Float64Chunked> {
    Ok(df.column(name)?.f64()?.rechunk().into_owned())
}

/// A year column in one chunk, for reading by position.
pub fn year_column(df: &DataFrame, name: &str) -> PolarsResult<Int32Chunked> {
    Ok(df.column(name)?.i32()?.rechunk().into_owned())
}

pub fn strings(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    Ok(df
        .column(name)?
        .as_materialized_series()
        .str()?
        .iter()
        .map(|s| s.map(String::from))
        .collect())
}

pub fn opt_strings(df: &DataFrame, name: &str) -> PolarsResult<Option<Vec<Option<String>>>> {
    if df.schema().contains(name) {
        strings(df, name).map(Some)
    } else {
        Ok(None)
    }
}

pub fn floats(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<f64>>> {
    Ok(df
        .column(name)?
        .as_materialized_series()
        .f64()?
        .iter()
        .collect())
}

pub fn opt_floats(df: &DataFrame, name: &str) -> PolarsResult<Option<Vec<Option<f64>>>> {
    if df.schema().contains(name) {
        floats(df, name).map(Some)
    } else {
        Ok(None)
    }
}

pub fn ints(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<i32>>> {
    Ok(df
        .column(name)?
        .as_materialized_series()
        .i32()?
        .iter()
        .collect())
}

/// Non-negative integer counts (a `len()` or a boolean `sum()`), nulls as zero.
pub fn counts(df: &DataFrame, name: &str) -> PolarsResult<Vec<usize>> {
    let s = df
        .column(name)?
        .as_materialized_series()
        .cast(&DataType::Int64)?;
    Ok(s.i64()?
        .iter()
        .map(|v| v.unwrap_or(0).max(0) as usize)
        .collect())
}

/// Runs several lazy queries in one polars call, so they share its thread pool.
pub fn collect_all(plans: Vec<LazyFrame>) -> PolarsResult<Vec<DataFrame>> {
    LazyFrame::collect_all_with_engine(
        plans.into_iter().map(|lf| lf.logical_plan).collect(),
        Engine::Auto,
        OptFlags::default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_sums_do_not_depend_on_row_order() {
        // Added in this order group a's values give 0 (the small ones vanish beside 1e16);
        // reversed, 0.6.
        let x = [0.1, 0.2, 0.3, 1e16, -1e16, 5.0];
        let g = ["a", "a", "a", "a", "a", "b"];
        let sums = |x: Vec<f64>, g: Vec<&str>| {
            let df = df!("g" => g, "x" => x).unwrap();
            df.lazy()
                .group_by([col("g")])
                .agg([
                    sum_of(col("x")).alias("all"),
                    sum_of(col("x").filter(col("x").gt(lit(100.0)))).alias("big"),
                ])
                .sort(["g"], SortMultipleOptions::default())
                .collect()
                .unwrap()
        };
        let forward = sums(x.to_vec(), g.to_vec());
        let backward = sums(
            x.iter().rev().copied().collect(),
            g.iter().rev().copied().collect(),
        );
        assert!(forward.equals_missing(&backward), "{forward}\n{backward}");
        // Sorted: -1e16 + 0.1 + 0.2 + 0.3 stays -1e16 (each is under half an ulp of 1e16,
        // which is 2), then + 1e16 gives 0. Group b has nothing over 100: its sum is 0.
        assert_eq!(floats(&forward, "all").unwrap(), [Some(0.0), Some(5.0)]);
        assert_eq!(floats(&forward, "big").unwrap(), [Some(1e16), Some(0.0)]);
    }
}
