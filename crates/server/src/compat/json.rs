//! Request bodies as the original read them: JSON only, or a form where the legacy
//! pages posted one. Any other content type is the original's 400.

use axum::Form;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::ApiError;
use crate::extract::{JsonBody, is_json};

const NOT_JSON: &str = "Content-Type doit être application/json";

/// A JSON body. Another content type: 400 with the original's message; not JSON or
/// of the wrong shape: 400 (naming the field when one is at fault); too large: 413.
pub(super) struct CompatJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for CompatJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::bad_request(NOT_JSON));
        }
        match JsonBody::<T>::from_request(request, state).await {
            Ok(JsonBody(value)) => Ok(CompatJson(value)),
            Err(mut error) => {
                if error.status == StatusCode::UNPROCESSABLE_ENTITY {
                    error.status = StatusCode::BAD_REQUEST;
                }
                Err(error)
            }
        }
    }
}

/// The fields of a JSON object, or of a form (`application/x-www-form-urlencoded`),
/// whose values are then all strings.
pub(super) struct JsonOrForm(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonOrForm {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_form(request.headers().get(header::CONTENT_TYPE)) {
            let CompatJson(fields) = CompatJson::from_request(request, state).await?;
            return Ok(JsonOrForm(fields));
        }
        let Form(pairs) = Form::<Vec<(String, String)>>::from_request(request, state)
            .await
            .map_err(|rejection| match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the body is too large",
                ),
                _ => ApiError::bad_request(rejection.body_text()),
            })?;
        Ok(JsonOrForm(
            pairs
                .into_iter()
                .map(|(key, value)| (key, Value::String(value)))
                .collect(),
        ))
    }
}

fn is_form(content_type: Option<&header::HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Tells a field given as `null` (`Some(None)`) from an absent one (`None`).
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// An object setting, given as a JSON object: serde alone would also take an array
/// and read its items as the fields in order.
pub(super) fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    Option::<Object<T>>::deserialize(deserializer).map(|object| object.map(|Object(value)| value))
}

/// Like [`object`], telling `null` from absent as [`present`] does.
pub(super) fn present_object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    object(deserializer).map(Some)
}

struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OnlyMaps<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for OnlyMaps<T> {
            type Value = T;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(OnlyMaps(PhantomData))
            .map(Object)
    }
}
