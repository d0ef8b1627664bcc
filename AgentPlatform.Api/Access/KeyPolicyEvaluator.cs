using AgentPlatform.Contracts.OpenAI;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;

namespace AgentPlatform.Api.Access;

/// <summary>
/// Evaluates the route groups' policies — an authenticated caller of one key scheme — straight from the
/// scheme's check, so that an admitted request allocates nothing here (the key's principal and its result
/// are made once per key). The framework's evaluator reaches the same handler through the request's
/// authentication service (a scoped handler provider, a handler, a new ticket and result per request),
/// then runs the authorization service's general requirement loop: about 1.2 KB per request, measured
/// on the hit path (<c>TRACE=hit bench/api-cost.sh</c>), on every call the gateway serves. Any other policy goes to
/// the framework's evaluator; a refusal is challenged as usual, by the scheme's handler
/// (<see cref="KeyAuthenticationHandler"/>), which answers with the refusal found here.
/// </summary>
internal sealed class KeyPolicyEvaluator(KeyChecks checks) : IPolicyEvaluator
{
    private static readonly Task<AuthenticateResult> NotAuthenticated = Task.FromResult(AuthenticateResult.NoResult());
    private static readonly Task<PolicyAuthorizationResult> Allowed = Task.FromResult(PolicyAuthorizationResult.Success());
    private static readonly Task<PolicyAuthorizationResult> Challenged = Task.FromResult(PolicyAuthorizationResult.Challenge());

    public Task<AuthenticateResult> AuthenticateAsync(AuthorizationPolicy policy, HttpContext context)
    {
        if (KeySchemeOf(policy) is not { } scheme)
        {
            return General(context).AuthenticateAsync(policy, context);
        }
        var check = checks.CheckAsync(scheme, context);
        return check.IsCompletedSuccessfully ? Authenticated(check.Result, context) : AwaitAsync(check, context);
    }

    private static async Task<AuthenticateResult> AwaitAsync(ValueTask<(KeyPrincipal? Principal, OpenAIErrorResult? Refusal)> check, HttpContext context) =>
        await Authenticated(await check, context);

    private static Task<AuthenticateResult> Authenticated((KeyPrincipal? Principal, OpenAIErrorResult? Refusal) outcome, HttpContext context)
    {
        if (outcome.Principal is { } principal)
        {
            context.User = principal;
            return principal.Authenticated;
        }
        context.Features.Set(new KeyRefusalFeature(outcome.Refusal ?? AccessRefusal.Missing));
        return NotAuthenticated;
    }

    public Task<PolicyAuthorizationResult> AuthorizeAsync(AuthorizationPolicy policy, AuthenticateResult authenticationResult, HttpContext context, object? resource) =>
        KeySchemeOf(policy) is null
            ? General(context).AuthorizeAsync(policy, authenticationResult, context, resource)
            : authenticationResult.Succeeded ? Allowed : Challenged;

    /// <summary>The key scheme of a policy that asks only for an authenticated caller of that one scheme (the Api's <see cref="AccessPolicies"/>).</summary>
    private static string? KeySchemeOf(AuthorizationPolicy policy) =>
        policy is { AuthenticationSchemes: [var scheme], Requirements: [DenyAnonymousAuthorizationRequirement] } && KeyChecks.Checks(scheme) ? scheme : null;

    private static PolicyEvaluator General(HttpContext context) => new(context.RequestServices.GetRequiredService<IAuthorizationService>());
}
