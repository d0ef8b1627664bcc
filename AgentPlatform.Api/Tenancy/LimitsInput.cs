using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using AgentPlatform.Contracts.Admin;

namespace AgentPlatform.Api.Tenancy;

/// <summary>
/// Reads the body a tenant or key is created or changed with (<see cref="LimitsChange"/>) and applies it,
/// checking each field and naming every one that is wrong. A field given replaces the current value;
/// <c>null</c> clears it.
/// </summary>
public static class LimitsInput
{
    private static readonly string[] LimitFields = ["name", "rpm", "tpm", "maxConcurrent", "budgetUsd", "budgetPeriod", "models", "expiresAt", "metadata", "cacheEnabled", "cacheTtlSeconds"];

    /// <summary>
    /// Field names exactly as written (not the web defaults' any case) and values of their own JSON type
    /// (no numbers in strings): what the admin API documents is what it takes.
    /// </summary>
    private static readonly JsonSerializerOptions Strict = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.Strict,
    };

    /// <summary>The body as a change, or null (with the error) when it is not a JSON object.</summary>
    public static LimitsChange? Read(ReadOnlySpan<byte> body, List<string> errors)
    {
        try
        {
            if (JsonSerializer.Deserialize<LimitsChange>(body, Strict) is { } change)
            {
                return change;
            }
        }
        catch (JsonException)
        {
        }
        errors.Add("The request body must be a JSON object.");
        return null;
    }

    /// <summary><paramref name="current"/> with the change applied (the same record type, e.g. a <see cref="Tenant"/>).</summary>
    public static Limits Apply(Limits current, LimitsChange change, List<string> errors, bool takesTenantId)
    {
        string[] fields = takesTenantId ? [.. LimitFields, "tenantId"] : LimitFields;
        foreach (var field in (IEnumerable<string>?)change.Unknown?.Keys ?? [])
        {
            errors.Add($"'{field}' is not a field; use {string.Join(", ", fields)}.");
        }
        if (!takesTenantId && change.TenantId.IsPresent)
        {
            errors.Add($"'tenantId' is not a field; use {string.Join(", ", fields)}.");
        }
        var limits = current;
        limits = Field(limits, change.Name, errors, "'name' must be a non-empty string of at most 200 characters.",
            name => !string.IsNullOrWhiteSpace(name) && name.Length <= 200, (l, name) => l with { Name = name.Trim() });
        limits = Field(limits, change.Rpm, errors, PositiveInteger("rpm"), IsPositive, (l, rpm) => l with { Rpm = rpm }, l => l with { Rpm = null });
        limits = Field(limits, change.Tpm, errors, PositiveInteger("tpm"), IsPositive, (l, tpm) => l with { Tpm = tpm }, l => l with { Tpm = null });
        limits = Field(limits, change.MaxConcurrent, errors, PositiveInteger("maxConcurrent"), IsPositive,
            (l, max) => l with { MaxConcurrent = max }, l => l with { MaxConcurrent = null });
        limits = Field(limits, change.BudgetUsd, errors, "'budgetUsd' must be a number of USD, 0 or more, or null for no budget.",
            budget => budget >= 0, (l, budget) => l with { BudgetUsd = budget }, l => l with { BudgetUsd = null });
        limits = Field(limits, change.BudgetPeriod, errors, $"'budgetPeriod' must be one of {string.Join(", ", BudgetPeriods.All)}.",
            BudgetPeriods.All.Contains, (l, period) => l with { BudgetPeriod = period });
        limits = Field(limits, change.Models, errors, "'models' must be an array of model group names (empty or null allows all).",
            models => models.All(group => group is { Length: > 0 }), (l, models) => l with { Models = [.. models.Distinct(StringComparer.Ordinal)] }, l => l with { Models = [] });
        limits = Field(limits, change.ExpiresAt, errors, "'expiresAt' must be an ISO 8601 date and time (e.g. 2027-01-31T00:00:00Z), or null for none.",
            iso => ParseTime(iso) is not null, (l, iso) => l with { ExpiresAt = ParseTime(iso) }, l => l with { ExpiresAt = null });
        limits = Field(limits, change.Metadata, errors, "'metadata' must be a JSON object.",
            _ => true, (l, metadata) => l with { Metadata = metadata }, l => l with { Metadata = [] });
        limits = Field(limits, change.CacheEnabled, errors, "'cacheEnabled' must be true, false, or null to follow the level above.",
            _ => true, (l, enabled) => l with { CacheEnabled = enabled }, l => l with { CacheEnabled = null });
        limits = Field(limits, change.CacheTtlSeconds, errors, PositiveInteger("cacheTtlSeconds", "or null to follow the level above"), IsPositive,
            (l, ttl) => l with { CacheTtlSeconds = ttl }, l => l with { CacheTtlSeconds = null });
        return limits;
    }

    /// <summary>
    /// One field applied: left as it is when absent, cleared when null (if it can be: <paramref name="clear"/>),
    /// set when a valid value, and otherwise named in <paramref name="errors"/> with what it must be.
    /// </summary>
    private static Limits Field<T>(Limits limits, Patch<T> field, List<string> errors, string mustBe,
        Func<T, bool> valid, Func<Limits, T, Limits> set, Func<Limits, Limits>? clear = null)
    {
        if (!field.IsPresent)
        {
            return limits;
        }
        if (field.IsNull && clear is not null)
        {
            return clear(limits);
        }
        if (field.TryGet(out var value) && valid(value))
        {
            return set(limits, value);
        }
        errors.Add(mustBe);
        return limits;
    }

    private static bool IsPositive(int number) => number >= 1;

    private static string PositiveInteger(string field, string nullMeans = "or null for no limit") =>
        $"'{field}' must be a whole number of at least 1, {nullMeans}.";

    private static DateTimeOffset? ParseTime(string iso) =>
        DateTimeOffset.TryParse(iso, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed) ? parsed.ToUniversalTime() : null;
}
