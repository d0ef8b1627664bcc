using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using AgentPlatform.Web.Platform;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Web.SignIn;

/// <summary>
/// Signing in to the console: the operator types the admin credential (the platform's master key,
/// or <c>AgentPlatform:AdminCredential</c> when set), the server compares it with its own, and the
/// browser gets an authentication cookie — HTTP-only, encrypted, and without the credential in it.
/// The console calls the Api with its own configured key, server-side; no secret reaches the browser.
/// </summary>
public static class ConsoleSignIn
{
    public const string SignInPath = "/signin";

    /// <summary>How long a wrong credential waits before its answer: guessing stays slow.</summary>
    private static readonly TimeSpan WrongCredentialDelay = TimeSpan.FromSeconds(1);

    public static IServiceCollection AddConsoleSignIn(this IServiceCollection services)
    {
        services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(options =>
            {
                options.Cookie.Name = "agentplatform-console";
                options.Cookie.HttpOnly = true;
                options.Cookie.SameSite = SameSiteMode.Strict;
                options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                options.ExpireTimeSpan = TimeSpan.FromHours(8);
                options.SlidingExpiration = true;
                options.LoginPath = SignInPath;
                options.ReturnUrlParameter = "returnUrl";
                options.Events.OnValidatePrincipal = async context =>
                {
                    if (context.Principal is null || !context.HttpContext.RequestServices.GetRequiredService<ConsoleSessions>().IsValid(context.Principal))
                    {
                        context.RejectPrincipal();
                        await context.HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
                    }
                };
            });
        services.AddAuthorization();
        // Antiforgery's own X-Frame-Options (SAMEORIGIN) would contradict the console's (DENY, UseConsoleHeaders).
        services.Configure<Microsoft.AspNetCore.Antiforgery.AntiforgeryOptions>(options => options.SuppressXFrameOptionsHeader = true);
        services.AddCascadingAuthenticationState();
        services.TryAddSingleton<ConsoleSessions>();
        services.AddScoped<AuthenticationStateProvider, ConsoleAuthenticationStateProvider>();
        return services;
    }

    public static IEndpointRouteBuilder MapConsoleSignIn(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/account/signin", SignInAsync).AllowAnonymous();
        endpoints.MapPost("/account/signout", (Delegate)SignOutAsync).RequireAuthorization(); // a handler whose result is written, not a RequestDelegate
        return endpoints;
    }

    private static async Task<IResult> SignInAsync(
        HttpContext context, [FromForm] string? credential, [FromForm] string? returnUrl, IOptionsMonitor<ConsoleOptions> options, ConsoleSessions sessions, ILoggerFactory loggers)
    {
        var back = LocalOrHome(returnUrl);
        var address = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        if (sessions.SignInRefusedFor(address) is { } wait)
        {
            // Even the right credential: a guess let through when right is a guess that can be made.
            context.Response.Headers.RetryAfter = Math.Ceiling(wait.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Results.LocalRedirect($"{SignInPath}?error=throttled&returnUrl={Uri.EscapeDataString(back)}");
        }
        if (!Matches(credential, options.CurrentValue.AdminCredentialOrMasterKey))
        {
            sessions.OnFailedSignIn(address);
            loggers.CreateLogger(typeof(ConsoleSignIn)).LogWarning("A console sign-in was refused: wrong credential.");
            await Task.Delay(WrongCredentialDelay, context.RequestServices.GetRequiredService<TimeProvider>(), context.RequestAborted);
            return Results.LocalRedirect($"{SignInPath}?error=wrong&returnUrl={Uri.EscapeDataString(back)}");
        }
        var admin = new ClaimsPrincipal(new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, "admin"), new Claim(ClaimTypes.Role, "admin"), .. sessions.ClaimsOfNewSession()],
            CookieAuthenticationDefaults.AuthenticationScheme));
        await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, admin);
        return Results.LocalRedirect(back);
    }

    /// <summary>Ends this session and every other: the console has one identity, and signing out means nobody stays in.</summary>
    private static async Task<IResult> SignOutAsync(HttpContext context, ConsoleSessions sessions)
    {
        sessions.EndAll();
        await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return Results.LocalRedirect(SignInPath);
    }

    /// <summary>
    /// The console's pages are never framed (clickjacking), and outside Development browsers are told
    /// to come back over HTTPS only (HSTS, sent on HTTPS responses).
    /// </summary>
    /// <summary>The console is framed by no one: its Content-Security-Policy.</summary>
    public const string FrameAncestors = "frame-ancestors 'none'";

    public static WebApplication UseConsoleHeaders(this WebApplication app)
    {
        if (!app.Environment.IsDevelopment())
        {
            app.UseHsts();
        }
        app.Use((context, next) =>
        {
            context.Response.OnStarting(static state =>
            {
                var headers = ((HttpResponse)state).Headers;
                headers.XFrameOptions = "DENY";
                // The interactive pages set their own (Program.cs gives them the same 'none').
                if (!headers.ContainsKey("Content-Security-Policy"))
                {
                    headers.ContentSecurityPolicy = FrameAncestors;
                }
                return Task.CompletedTask;
            }, context.Response);
            return next(context);
        });
        return app;
    }

    /// <summary>Compares in constant time (over hashes, so lengths leak nothing either); nothing matches an empty credential.</summary>
    internal static bool Matches(string? given, string expected) =>
        !string.IsNullOrEmpty(given) && !string.IsNullOrEmpty(expected)
        && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));

    /// <summary>Only a path of this site: a sign-in link must not send anyone elsewhere.</summary>
    internal static string LocalOrHome(string? returnUrl) =>
        returnUrl is { Length: > 0 } url && url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal) && !url.StartsWith("/\\", StringComparison.Ordinal)
            ? url
            : "/";
}
