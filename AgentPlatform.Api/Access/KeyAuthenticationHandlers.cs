using System.Security.Claims;
using AgentPlatform.Contracts.OpenAI;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AgentPlatform.Api.Access;

/// <summary>The Api's two credentials, as ASP.NET Core authentication schemes.</summary>
public static class AccessSchemes
{
    /// <summary>A virtual key (or, until any key exists, the master key) on <c>/v1</c>.</summary>
    public const string VirtualKey = "VirtualKey";

    /// <summary>The master key on <c>/admin/v1</c>.</summary>
    public const string MasterKey = "MasterKey";
}

/// <summary>What the route groups require (<c>RequireAuthorization</c>): an authenticated caller of the scheme.</summary>
public static class AccessPolicies
{
    public const string Client = "client";
    public const string Admin = "admin";

    public static IServiceCollection AddKeyAuthentication(this IServiceCollection services)
    {
        // No default scheme: only a route that requires a policy authenticates, and only with its own scheme.
        services.AddAuthentication(options =>
        {
            options.AddScheme<KeyAuthenticationHandler>(AccessSchemes.VirtualKey, displayName: null);
            options.AddScheme<KeyAuthenticationHandler>(AccessSchemes.MasterKey, displayName: null);
        });
        // One per request and scheme (a handler holds its request), made by the container rather than by reflection.
        services.AddTransient<KeyAuthenticationHandler>();
        services.AddSingleton<KeyChecks>();
        services.AddAuthorizationBuilder()
            .AddPolicy(Client, policy => policy.AddAuthenticationSchemes(AccessSchemes.VirtualKey).RequireAuthenticatedUser())
            .AddPolicy(Admin, policy => policy.AddAuthenticationSchemes(AccessSchemes.MasterKey).RequireAuthenticatedUser());
        services.Replace(ServiceDescriptor.Singleton<IPolicyEvaluator, KeyPolicyEvaluator>());
        return services;
    }
}

/// <summary>
/// A bearer key checked by one of the Api's authenticators (<see cref="KeyChecks"/>); a refusal is
/// answered in OpenAI's error shape (the SDKs raise it as an authentication error) and counted against
/// the caller's address.
/// </summary>
/// <remarks>
/// <see cref="IAuthenticationHandler"/> itself rather than <c>AuthenticationHandler&lt;TOptions&gt;</c>:
/// these schemes have no options, events or forwarding, and the base class would create a logger and
/// look its options up on every request. The route groups' policies are evaluated without it
/// (<see cref="KeyPolicyEvaluator"/>); it answers their challenge, and anything that authenticates a
/// request by scheme. Nothing is logged for a refusal (made-up keys must not fill the logs); each is
/// counted (<c>agentplatform.auth.failures</c>).
/// </remarks>
internal sealed class KeyAuthenticationHandler(FailedAuthentications failures, KeyChecks checks) : IAuthenticationHandler
{
    private HttpContext _context = null!;
    private string _scheme = null!;
    private Task<AuthenticateResult>? _result;
    private OpenAIErrorResult? _refusal;

    public Task InitializeAsync(AuthenticationScheme scheme, HttpContext context)
    {
        _context = context;
        _scheme = scheme.Name;
        return Task.CompletedTask;
    }

    /// <summary>Checks the key once per request, however often it is asked.</summary>
    public Task<AuthenticateResult> AuthenticateAsync() => _result ??= CheckAsync();

    private async Task<AuthenticateResult> CheckAsync()
    {
        var (principal, refusal) = await checks.CheckAsync(_scheme, _context);
        _refusal = refusal;
        return principal is null ? AuthenticateResult.NoResult() : await principal.Authenticated;
    }

    public async Task ChallengeAsync(AuthenticationProperties? properties)
    {
        var refusal = _refusal ?? _context.Features.Get<KeyRefusalFeature>()?.Refusal ?? AccessRefusal.Missing;
        if (AccessRefusal.CountsAsFailure(refusal))
        {
            await failures.OnFailureAsync(_context, refusal.Code!);
        }
        await refusal.ExecuteAsync(_context);
    }

    /// <summary>Not reached: the policies only ask for an authenticated caller.</summary>
    public Task ForbidAsync(AuthenticationProperties? properties)
    {
        _context.Response.StatusCode = StatusCodes.Status403Forbidden;
        return Task.CompletedTask;
    }
}

/// <summary>Why a request's key was refused, for the scheme's challenge to answer with.</summary>
internal sealed class KeyRefusalFeature(OpenAIErrorResult refusal)
{
    public OpenAIErrorResult Refusal => refusal;
}

/// <summary>The two schemes' checks of the bearer key: the caller's principal (made once per key), or why it is refused.</summary>
internal sealed class KeyChecks(ClientAuthenticator clients, MasterKeyAuthenticator master)
{
    private static readonly KeyPrincipal Admin = new(AccessSchemes.MasterKey);

    public static bool Checks(string scheme) => scheme is AccessSchemes.VirtualKey or AccessSchemes.MasterKey;

    public ValueTask<(KeyPrincipal? Principal, OpenAIErrorResult? Refusal)> CheckAsync(string scheme, HttpContext context) => scheme switch
    {
        AccessSchemes.VirtualKey => VirtualKeyAsync(context),
        AccessSchemes.MasterKey => ValueTask.FromResult(master.Authenticate(context) is { } refusal ? ((KeyPrincipal?)null, (OpenAIErrorResult?)refusal) : (Admin, null)),
        _ => throw new ArgumentOutOfRangeException(nameof(scheme), scheme, "Not a key scheme."),
    };

    /// <summary>Synchronous, and allocating nothing, for a key this replica knows.</summary>
    private async ValueTask<(KeyPrincipal? Principal, OpenAIErrorResult? Refusal)> VirtualKeyAsync(HttpContext context) => await clients.AuthenticateAsync(context);
}

/// <summary>
/// An authenticated caller of one scheme, made once per key (not per request) with its authentication
/// result: the framework reads the result and builds its own from it, and never changes it.
/// </summary>
public class KeyPrincipal : ClaimsPrincipal
{
    public KeyPrincipal(string scheme) : base(new ClaimsIdentity(scheme)) =>
        Authenticated = Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(this, scheme)));

    internal Task<AuthenticateResult> Authenticated { get; }
}
