using System.ComponentModel.DataAnnotations;

namespace AgentPlatform.Api;

/// <summary>Configuration section <c>AgentPlatform</c> of the Api.</summary>
public sealed class ApiOptions
{
    public const string SectionName = "AgentPlatform";

    /// <summary>
    /// The admin credential (from the AppHost's secret parameter <c>master-key</c>, user secrets or the
    /// environment; never a committed file). Until virtual keys exist it is also the only client key.
    /// </summary>
    [Required(ErrorMessage = "AgentPlatform:MasterKey is required: set it with the AppHost parameter 'master-key' or the environment variable AgentPlatform__MasterKey.")]
    [MinLength(16, ErrorMessage = "AgentPlatform:MasterKey must be at least 16 characters.")]
    public string MasterKey { get; set; } = "";

    /// <summary>
    /// The credential the Api presents to the Router (the AppHost's secret parameter <c>internal-key</c>,
    /// or <c>AgentPlatform__InternalKey</c>: the same value the Router has).
    /// </summary>
    [Required(ErrorMessage = "AgentPlatform:InternalKey is required to call the Router: set it with the AppHost parameter 'internal-key' or the environment variable AgentPlatform__InternalKey (the Router's value).")]
    [MinLength(16, ErrorMessage = "AgentPlatform:InternalKey must be at least 16 characters.")]
    public string InternalKey { get; set; } = "";

    /// <summary>Largest chat request body accepted; larger ones get 413.</summary>
    [Range(1024, 1L << 30, ErrorMessage = "AgentPlatform:MaxRequestBodyBytes must be between 1 KiB and 1 GiB.")]
    public long MaxRequestBodyBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>
    /// How long a stored Responses API response (<c>store</c> not false) is kept for <c>GET /v1/responses/{id}</c>
    /// and <c>previous_response_id</c>: OpenAI keeps them 30 days.
    /// </summary>
    [Range(1, 365, ErrorMessage = "AgentPlatform:ResponsesTtlDays must be between 1 and 365.")]
    public int ResponsesTtlDays { get; set; } = 30;

    /// <summary>
    /// The most bytes of stored Responses API responses one tenant (or the master key) keeps: past it, a request that
    /// would store another is refused (400) until some are deleted or expire — a request with <c>store: false</c>
    /// still goes through. Each response counts its JSON and its own turn's input.
    /// </summary>
    [Range(1024, 1L << 40, ErrorMessage = "AgentPlatform:ResponsesMaxStoredBytes must be between 1 KiB and 1 TiB.")]
    public long ResponsesMaxStoredBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>How long the Router may take to start answering (it tries every deployment inside it).</summary>
    [Range(1, 3600, ErrorMessage = "AgentPlatform:RouterTimeoutSeconds must be between 1 and 3600.")]
    public int RouterTimeoutSeconds { get; set; } = 300;

    /// <summary>
    /// The output a request is assumed to reserve (against tokens per minute and budgets) when it sets
    /// no <c>max_tokens</c> and its model group's deployments declare no <c>MaxOutputTokens</c>.
    /// </summary>
    [Range(1, 10_000_000, ErrorMessage = "AgentPlatform:DefaultMaxOutputTokens must be between 1 and 10000000.")]
    public int DefaultMaxOutputTokens { get; set; } = 4096;

    /// <summary>
    /// The most answers one request may ask for (<c>n</c>). A request reserves its output against tokens
    /// per minute and budgets <c>n</c> times, and larger ones are refused with 400.
    /// </summary>
    [Range(1, 128, ErrorMessage = "AgentPlatform:MaxChoices must be between 1 and 128.")]
    public int MaxChoices { get; set; } = 8;

    /// <summary>
    /// Failed authentications a client address may have within <see cref="FailedAuthenticationWindowSeconds"/>
    /// before it is turned away (429, <c>Retry-After</c>) for the rest of the window; 0 turns the limit off.
    /// </summary>
    [Range(0, 1_000_000, ErrorMessage = "AgentPlatform:MaxFailedAuthentications must be between 0 (off) and 1000000.")]
    public int MaxFailedAuthentications { get; set; } = 30;

    [Range(1, 86_400, ErrorMessage = "AgentPlatform:FailedAuthenticationWindowSeconds must be between 1 and 86400.")]
    public int FailedAuthenticationWindowSeconds { get; set; } = 60;

    /// <summary>How long usage records and their hourly roll-ups are kept.</summary>
    [Range(1, 3650, ErrorMessage = "AgentPlatform:UsageRetentionDays must be between 1 and 3650.")]
    public int UsageRetentionDays { get; set; } = 90;

    /// <summary>How long the daily roll-ups are kept (at least as long as the records).</summary>
    [Range(1, 3650, ErrorMessage = "AgentPlatform:UsageDailyRollupRetentionDays must be between 1 and 3650.")]
    public int UsageDailyRollupRetentionDays { get; set; } = 400;

    /// <summary>How many usage records this replica holds while Redis is unreachable before requests wait for room.</summary>
    [Range(100, 10_000_000, ErrorMessage = "AgentPlatform:UsageSpoolCapacity must be between 100 and 10000000.")]
    public int UsageSpoolCapacity { get; set; } = 100_000;
}

