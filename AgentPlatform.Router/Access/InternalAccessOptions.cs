using System.ComponentModel.DataAnnotations;

namespace AgentPlatform.Router.Access;

/// <summary>
/// Configuration section <c>AgentPlatform</c> of the Router: the credential its callers present. The
/// Router spends provider keys with no tenant, limit or budget of its own, so it answers no one else.
/// </summary>
public sealed class InternalAccessOptions
{
    public const string SectionName = "AgentPlatform";

    /// <summary>
    /// The internal key (the AppHost's secret parameter <c>internal-key</c>, or the environment variable
    /// <c>AgentPlatform__InternalKey</c>), the same on the Api and every other caller of the Router.
    /// </summary>
    [Required(ErrorMessage = "AgentPlatform:InternalKey is required: the Router answers only callers that present it. Set it with the AppHost parameter 'internal-key' or the environment variable AgentPlatform__InternalKey (the same value on the Api).")]
    [MinLength(16, ErrorMessage = "AgentPlatform:InternalKey must be at least 16 characters.")]
    public string InternalKey { get; set; } = "";
}

