//! A Locrit's activity day by day, for charts: the messages written each day, and how
//! many memories it held at the end of each day.

use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveTime, TimeDelta, Utc};
use locrit_domain::Locrit;

use crate::{Core, Result};

/// The longest series one can ask for.
pub const MAX_ACTIVITY_DAYS: u32 = 366;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayActivity {
    pub date: NaiveDate,
    pub messages: u64,
    /// Memories created up to the end of this day and still kept.
    pub memories: u64,
}

impl Core {
    /// The last `days` days (today included, at most [`MAX_ACTIVITY_DAYS`]), in the
    /// time zone `offset`, oldest first.
    pub async fn activity(
        &self,
        locrit: &Locrit,
        days: u32,
        offset: FixedOffset,
    ) -> Result<Vec<DayActivity>> {
        let days = days.clamp(1, MAX_ACTIVITY_DAYS);
        let day_of = |time: DateTime<Utc>| time.with_timezone(&offset).date_naive();
        let first = day_of(Utc::now()) - Days::new(u64::from(days - 1));
        let since = first.and_time(NaiveTime::MIN).and_utc()
            - TimeDelta::seconds(i64::from(offset.local_minus_utc()));
        let mut series: Vec<DayActivity> = (0..u64::from(days))
            .map(|n| DayActivity {
                date: first + Days::new(n),
                messages: 0,
                memories: 0,
            })
            .collect();
        for time in self.store.message_times(locrit.id, since).await? {
            let index = (day_of(time) - first).num_days();
            if let Some(day) = usize::try_from(index).ok().and_then(|i| series.get_mut(i)) {
                day.messages += 1;
            }
        }
        let mut created: Vec<NaiveDate> = self
            .store
            .memories(locrit.id, &locrit_store::MemoryQuery::default())
            .await?
            .iter()
            .map(|memory| day_of(memory.created_at))
            .collect();
        created.sort_unstable();
        for day in &mut series {
            day.memories = created.partition_point(|date| *date <= day.date) as u64;
        }
        Ok(series)
    }
}
