using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.ServiceDefaults.Security;
using AgentPlatform.ServiceDefaults.Telemetry;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Router.Access;

/// <summary>
/// Lets through only requests that carry the internal key as <c>Authorization: Bearer</c>: chat
/// completions, the model groups and the deployments' admin endpoints alike. The probes stay open
/// (they say healthy or not, nothing more) and <c>/metrics</c> checks its own scrape key.
/// </summary>
internal sealed class InternalKeyMiddleware(RequestDelegate next, IOptions<InternalAccessOptions> options, ILogger<InternalKeyMiddleware> logger)
{
    private readonly BearerCredential _internalKey = new(options.Value.InternalKey);

    public Task InvokeAsync(HttpContext context)
    {
        if (_internalKey.IsPresentedBy(context.Request) || IsOpen(context.Request.Path))
        {
            return next(context);
        }
        // Never the header's value: a caller that sent a wrong key may have sent someone's real one.
        Log.InternalKeyRefused(logger, context.Request.Method, LogText.Safe(context.Request.Path.Value), context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
            context.Request.Headers.Authorization.Count > 0);
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return OpenAIError.WriteAsync(context, StatusCodes.Status401Unauthorized,
            "The Router is internal to the platform: call it with the internal key (AgentPlatform:InternalKey) as a bearer token, or call the Api.",
            OpenAIError.Authentication, "invalid_internal_key");
    }

    private static bool IsOpen(PathString path) =>
        path.StartsWithSegments("/health") || path.StartsWithSegments("/alive") || path.StartsWithSegments("/metrics");
}
