using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgentPlatform.Api.Tenancy;

/// <summary>
/// Reads the fields a tenant or key is created or patched with, checking each and naming any that is
/// wrong. A field present replaces the current value; <c>null</c> clears a limit.
/// </summary>
public static class LimitsInput
{
    private static readonly string[] LimitFields = ["name", "rpm", "tpm", "maxConcurrent", "budgetUsd", "budgetPeriod", "models", "expiresAt", "metadata", "cacheEnabled", "cacheTtlSeconds"];

    /// <summary><paramref name="current"/> with the body's fields applied (the same record type, e.g. a <see cref="Tenant"/>).</summary>
    public static Limits Apply(Limits current, JsonObject body, List<string> errors, IReadOnlyCollection<string> otherFields)
    {
        foreach (var (field, _) in body)
        {
            if (!LimitFields.Contains(field) && !otherFields.Contains(field))
            {
                errors.Add($"'{field}' is not a field; use {string.Join(", ", LimitFields.Concat(otherFields))}.");
            }
        }
        var result = current;
        if (body.TryGetPropertyValue("name", out var name))
        {
            if (name is JsonValue v && v.TryGetValue<string>(out var text) && !string.IsNullOrWhiteSpace(text) && text.Length <= 200)
            {
                result = result with { Name = text.Trim() };
            }
            else
            {
                errors.Add("'name' must be a non-empty string of at most 200 characters.");
            }
        }
        if (body.TryGetPropertyValue("rpm", out var rpm))
        {
            result = result with { Rpm = PositiveInteger("rpm", rpm, errors) };
        }
        if (body.TryGetPropertyValue("tpm", out var tpm))
        {
            result = result with { Tpm = PositiveInteger("tpm", tpm, errors) };
        }
        if (body.TryGetPropertyValue("maxConcurrent", out var maxConcurrent))
        {
            result = result with { MaxConcurrent = PositiveInteger("maxConcurrent", maxConcurrent, errors) };
        }
        if (body.TryGetPropertyValue("budgetUsd", out var budget))
        {
            if (budget is null)
            {
                result = result with { BudgetUsd = null };
            }
            else if (budget is JsonValue b && b.TryGetValue<decimal>(out var amount) && amount >= 0)
            {
                result = result with { BudgetUsd = amount };
            }
            else
            {
                errors.Add("'budgetUsd' must be a number of USD, 0 or more, or null for no budget.");
            }
        }
        if (body.TryGetPropertyValue("budgetPeriod", out var period))
        {
            if (period is JsonValue p && p.TryGetValue<string>(out var value) && BudgetPeriods.All.Contains(value))
            {
                result = result with { BudgetPeriod = value };
            }
            else
            {
                errors.Add($"'budgetPeriod' must be one of {string.Join(", ", BudgetPeriods.All)}.");
            }
        }
        if (body.TryGetPropertyValue("models", out var models))
        {
            if (models is null)
            {
                result = result with { Models = [] };
            }
            else if (models is JsonArray list && list.All(m => m is JsonValue s && s.TryGetValue<string>(out var group) && group.Length > 0))
            {
                result = result with { Models = list.Select(m => m!.GetValue<string>()).Distinct(StringComparer.Ordinal).ToList() };
            }
            else
            {
                errors.Add("'models' must be an array of model group names (empty or null allows all).");
            }
        }
        if (body.TryGetPropertyValue("expiresAt", out var expires))
        {
            if (expires is null)
            {
                result = result with { ExpiresAt = null };
            }
            else if (expires is JsonValue e && e.TryGetValue<string>(out var iso)
                && DateTimeOffset.TryParse(iso, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
            {
                result = result with { ExpiresAt = parsed.ToUniversalTime() };
            }
            else
            {
                errors.Add("'expiresAt' must be an ISO 8601 date and time (e.g. 2027-01-31T00:00:00Z), or null for none.");
            }
        }
        if (body.TryGetPropertyValue("metadata", out var metadata))
        {
            if (metadata is null)
            {
                result = result with { Metadata = [] };
            }
            else if (metadata is JsonObject map)
            {
                result = result with { Metadata = (JsonObject)map.DeepClone() };
            }
            else
            {
                errors.Add("'metadata' must be a JSON object.");
            }
        }
        if (body.TryGetPropertyValue("cacheEnabled", out var cacheEnabled))
        {
            if (cacheEnabled is null)
            {
                result = result with { CacheEnabled = null };
            }
            else if (cacheEnabled is JsonValue c && c.TryGetValue<bool>(out var enabled))
            {
                result = result with { CacheEnabled = enabled };
            }
            else
            {
                errors.Add("'cacheEnabled' must be true, false, or null to follow the level above.");
            }
        }
        if (body.TryGetPropertyValue("cacheTtlSeconds", out var cacheTtl))
        {
            result = result with { CacheTtlSeconds = PositiveInteger("cacheTtlSeconds", cacheTtl, errors, "or null to follow the level above") };
        }
        return result;
    }

    /// <summary>The request body as a JSON object, or null (with the error) when it is not one.</summary>
    public static JsonObject? ReadObject(ReadOnlySpan<byte> body, List<string> errors)
    {
        try
        {
            if (JsonNode.Parse(body) is JsonObject json)
            {
                return json;
            }
        }
        catch (JsonException)
        {
        }
        errors.Add("The request body must be a JSON object.");
        return null;
    }

    private static int? PositiveInteger(string field, JsonNode? node, List<string> errors, string nullMeans = "or null for no limit")
    {
        if (node is null)
        {
            return null;
        }
        if (node is JsonValue value && value.TryGetValue<int>(out var number) && number >= 1)
        {
            return number;
        }
        errors.Add($"'{field}' must be a whole number of at least 1, {nullMeans}.");
        return null;
    }
}
