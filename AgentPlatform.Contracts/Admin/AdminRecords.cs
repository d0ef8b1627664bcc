namespace AgentPlatform.Contracts.Admin;

/// <summary>OpenAI's list shape, <c>{"data":[...],"object":"list"}</c>: every admin listing, as the Api writes it and the console reads it.</summary>
public sealed record ListOf<T>(IReadOnlyList<T> Data)
{
    public string Object => "list";
}

public static class ListOf
{
    /// <summary>A list of <paramref name="items"/> (their type inferred, anonymous ones too).</summary>
    public static ListOf<T> Of<T>(IEnumerable<T> items) => new([.. items]);
}

/// <summary>What <c>DELETE /admin/v1/cache</c> did: the tenant whose answers went (null: every tenant's) and how many.</summary>
public sealed record CachePurge(string? TenantId, long Deleted)
{
    public string Object => "cache.purge";
}

/// <summary>A named thing the admin API deleted.</summary>
public sealed record Deletion(string Name)
{
    public bool Deleted => true;
}

/// <summary>One page of a listing that may go on (<see cref="HasMore"/>): OpenAI's list shape with <c>has_more</c>'s flag.</summary>
public sealed record Page<T>(IReadOnlyList<T> Data, bool HasMore)
{
    public string Object => "list";
}
