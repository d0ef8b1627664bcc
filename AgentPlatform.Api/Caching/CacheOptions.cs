using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Caching;

/// <summary>
/// Configuration section <c>Cache</c> of the Api: the response cache's defaults, which a model group
/// (<see cref="ModelGroups"/>), a tenant and a key (<c>cacheEnabled</c>, <c>cacheTtlSeconds</c>) override,
/// in that order, and a request can narrow (<c>Cache-Control</c>, <see cref="ResponseCache.TtlHeader"/>).
/// </summary>
public sealed class CacheOptions
{
    public const string SectionName = "Cache";

    /// <summary>Off by default: a cached answer is the same answer again, which not every application wants.</summary>
    public bool Enabled { get; set; }

    [Range(1, 31_536_000, ErrorMessage = "Cache:TtlSeconds must be between 1 and 31536000 (a year).")]
    public int TtlSeconds { get; set; } = 3600;

    /// <summary>
    /// Each entry's lifetime is shortened by a random share of up to this much, so entries written
    /// together do not expire — and are refilled upstream — together.
    /// </summary>
    [Range(0, 0.5, ErrorMessage = "Cache:TtlJitter must be between 0 and 0.5.")]
    public double TtlJitter { get; set; } = 0.1;

    /// <summary>The largest answer stored (its JSON); larger answers are passed on and not kept.</summary>
    [Range(1024, 64 * 1024 * 1024, ErrorMessage = "Cache:MaxEntryBytes must be between 1024 and 67108864.")]
    public int MaxEntryBytes { get; set; } = 1024 * 1024;

    /// <summary>Memory of this replica's own level (the hottest entries), in bytes of answers.</summary>
    [Range(0, 16L * 1024 * 1024 * 1024, ErrorMessage = "Cache:LocalSizeBytes must be between 0 (no local level) and 17179869184.")]
    public long LocalSizeBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>How long an entry stays in this replica's memory (never past its time in Redis).</summary>
    [Range(1, 86_400, ErrorMessage = "Cache:LocalTtlSeconds must be between 1 and 86400.")]
    public int LocalTtlSeconds { get; set; } = 60;

    /// <summary>
    /// How long the one request filling an entry holds the right to (renewed while it is alive). When its
    /// replica dies, the requests waiting for it take over once this runs out.
    /// </summary>
    [Range(1, 600, ErrorMessage = "Cache:FillLeaseSeconds must be between 1 and 600.")]
    public int FillLeaseSeconds { get; set; } = 10;

    /// <summary>The longest a request waits for another's fill of the same entry before it goes upstream itself.</summary>
    [Range(1, 3600, ErrorMessage = "Cache:FillWaitSeconds must be between 1 and 3600.")]
    public int FillWaitSeconds { get; set; } = 60;

    /// <summary>Whether a hit counts as a request against the key's and tenant's requests per minute.</summary>
    public bool HitsCountTowardRequests { get; set; } = true;

    /// <summary>Whether a hit's tokens count against tokens per minute (only with <see cref="HitsCountTowardRequests"/>).</summary>
    public bool HitsCountTowardTokens { get; set; }

    /// <summary>Per model group (by name): on or off, TTL, largest entry.</summary>
    public Dictionary<string, ModelGroupCacheOptions> ModelGroups { get; set; } = new(StringComparer.Ordinal);
}

public sealed class ModelGroupCacheOptions
{
    /// <summary>
    /// <c>false</c> never caches the group, whatever a tenant or key says (for groups whose answers must
    /// not be reused); <c>true</c> caches it unless a tenant or key turns it off.
    /// </summary>
    public bool? Enabled { get; set; }

    public int? TtlSeconds { get; set; }

    public int? MaxEntryBytes { get; set; }
}

/// <summary>The rules across fields, and the per-group values (which DataAnnotations do not reach in a dictionary).</summary>
public sealed class CacheOptionsRulesValidator : IValidateOptions<CacheOptions>
{
    public ValidateOptionsResult Validate(string? name, CacheOptions options)
    {
        var errors = new List<string>();
        if (options.HitsCountTowardTokens && !options.HitsCountTowardRequests)
        {
            errors.Add("Cache:HitsCountTowardTokens needs Cache:HitsCountTowardRequests: a hit counted for its tokens is counted as a request too.");
        }
        foreach (var (group, settings) in options.ModelGroups)
        {
            if (settings.TtlSeconds is < 1 or > 31_536_000)
            {
                errors.Add($"Cache:ModelGroups:{group}:TtlSeconds must be between 1 and 31536000.");
            }
            if (settings.MaxEntryBytes is < 1024 or > 64 * 1024 * 1024)
            {
                errors.Add($"Cache:ModelGroups:{group}:MaxEntryBytes must be between 1024 and 67108864.");
            }
        }
        return errors.Count > 0 ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }
}
